package io.tollgate.loadtests.driver;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * {@code java -cp stub-upstream.jar io.tollgate.loadtests.driver.LoadDriverMain --url URL [--name run]
 * [--scenario chat|sse|mixed|overlimit|large] [--rate N (0: closed loop)] [--connections 64]
 * [--warmup-s 5] [--duration-s 20] [--key KEY | --keys FILE] [--body-bytes 300] [--expect 200,429]
 * [--max-in-flight 20000] [--out DIR]}.
 *
 * <p>Prints the summary (throughput, p50/p90/p99/p99.9/max, responses and errors by kind) and, with
 * {@code --out}, writes NAME.json and NAME.hgrm there. The driver uses one event loop: pin it to
 * its own core ({@code taskset -c 0}) to keep it off the server's.
 */
public final class LoadDriverMain {

  private LoadDriverMain() {
  }

  public static void main(String[] args) throws Exception {
    DriverOptions options;
    try {
      options = parse(args);
    } catch (IllegalArgumentException | IOException e) {
      System.err.println("load driver: " + e.getMessage());
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1));
    try {
      RunResult result = run(vertx, options).await(options.warmup().plus(options.duration()).toSeconds() + 120, TimeUnit.SECONDS);
      System.out.print(result.summary());
      if (options.outDir() != null) {
        result.write(options.outDir());
      }
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }

  /** Deploys a driver for {@code options}, and undeploys it once its result is in. */
  public static Future<RunResult> run(Vertx vertx, DriverOptions options) {
    LoadDriver driver = new LoadDriver(options);
    return vertx.deployVerticle(driver)
        .compose(id -> driver.result().compose(result -> vertx.undeploy(id).map(result)));
  }

  static DriverOptions parse(String[] args) throws IOException {
    String name = "run";
    URI url = null;
    Scenario scenario = Scenario.CHAT;
    int rate = 0;
    int connections = 64;
    Duration warmup = Duration.ofSeconds(5);
    Duration duration = Duration.ofSeconds(20);
    List<String> keys = new ArrayList<>();
    int bodyBytes = 300;
    Set<Integer> expected = null;
    int maxInFlight = 20_000;
    Path out = null;
    for (int i = 0; i < args.length; i += 2) {
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("option " + args[i] + " needs a value");
      }
      String v = args[i + 1];
      switch (args[i]) {
        case "--name" -> name = v;
        case "--url" -> url = URI.create(v);
        case "--scenario" -> scenario = Scenario.of(v);
        case "--rate" -> rate = Integer.parseInt(v);
        case "--connections" -> connections = Integer.parseInt(v);
        case "--warmup-s" -> warmup = Duration.ofMillis((long) (Double.parseDouble(v) * 1000));
        case "--duration-s" -> duration = Duration.ofMillis((long) (Double.parseDouble(v) * 1000));
        case "--key" -> keys.add(v);
        case "--keys" -> keys.addAll(readKeys(Path.of(v)));
        case "--body-bytes" -> bodyBytes = Integer.parseInt(v);
        case "--expect" -> {
          expected = new HashSet<>();
          for (String s : v.split(",")) {
            expected.add(Integer.parseInt(s.trim()));
          }
        }
        case "--max-in-flight" -> maxInFlight = Integer.parseInt(v);
        case "--out" -> out = Path.of(v);
        default -> throw new IllegalArgumentException("unknown option " + args[i]);
      }
    }
    if (url == null) {
      throw new IllegalArgumentException("--url is required");
    }
    return new DriverOptions(name, url, scenario, rate, connections, warmup, duration, keys, bodyBytes,
        expected == null ? scenario.expected() : expected, maxInFlight, out);
  }

  private static List<String> readKeys(Path file) throws IOException {
    List<String> keys = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      if (!line.isBlank()) {
        keys.add(line.trim());
      }
    }
    if (keys.isEmpty()) {
      throw new IllegalArgumentException("no keys in " + file);
    }
    return keys;
  }
}
