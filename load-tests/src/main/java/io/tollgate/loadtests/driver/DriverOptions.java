package io.tollgate.loadtests.driver;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * One load run: where, what, how hard and for how long.
 *
 * @param name         label of the run, used in the report and as the file name of its outputs
 * @param url          the full URL requests go to (e.g. {@code http://127.0.0.1:8080/v1/chat/completions})
 * @param scenario     the request shape
 * @param rate         requests per second (open loop); 0 means closed loop (max throughput)
 * @param connections  keep-alive connections; in closed loop also the number of concurrent users
 * @param warmup       time before measuring (requests issued then are not recorded)
 * @param duration     measured time
 * @param keys         API keys sent as {@code Authorization: Bearer}, picked at random per request; empty: none
 * @param bodyBytes    approximate size of each request body (the message content is padded to it)
 * @param expected     statuses that are outcomes, not errors (e.g. 429 and 402 in the over-limit scenario)
 * @param maxInFlight  open loop only: beyond this many requests in flight the driver refuses to queue more
 *                     and counts {@code driver_backlog} errors, so a stalled target cannot exhaust memory
 * @param outDir       where the percentile distributions and the JSON summary go; null: nowhere
 */
public record DriverOptions(String name, URI url, Scenario scenario, int rate, int connections, Duration warmup,
                            Duration duration, List<String> keys, int bodyBytes, Set<Integer> expected, int maxInFlight,
                            Path outDir) {

  public DriverOptions {
    if (rate < 0) {
      throw new IllegalArgumentException("--rate must be >= 0 (0: closed loop), got " + rate);
    }
    if (connections < 1) {
      throw new IllegalArgumentException("--connections must be >= 1, got " + connections);
    }
    if (duration.isZero() || duration.isNegative()) {
      throw new IllegalArgumentException("--duration must be > 0");
    }
    keys = List.copyOf(keys);
    expected = Set.copyOf(expected);
  }

  public boolean openLoop() {
    return rate > 0;
  }

  public String modeLabel() {
    return openLoop() ? "open loop, " + rate + " req/s" : "closed loop, " + connections + " users";
  }
}
