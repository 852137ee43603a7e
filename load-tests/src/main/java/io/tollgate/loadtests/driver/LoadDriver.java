package io.tollgate.loadtests.driver;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.VertxException;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Drives one run from its own event loop: an open-loop constant arrival rate (each request has a
 * due time; its latency counts from then, so a stalled server is charged for every request it
 * delayed — no coordinated omission), or a closed loop of N users each
 * sending the next request when the last one ends (max throughput). Warm-up requests are sent but
 * not recorded. {@link #result()} completes when every measured request has ended, or after
 * {@link #DRAIN} past the end.
 */
public final class LoadDriver extends VerticleBase {

  static final long DRAIN = TimeUnit.SECONDS.toNanos(30);
  /** Enough of a stream's end to hold {@code data: [DONE]} and its blank line. */
  private static final int TAIL_BYTES = 32;

  private final DriverOptions options;
  private final Promise<RunResult> done = Promise.promise();
  private final Recorder recorder = new Recorder();
  private final SplittableRandom random = new SplittableRandom(42);
  private HttpClientAgent client;
  private Buffer body;
  private long startNanos;
  private long measureStartNanos;
  private long endNanos;
  private int inFlight;
  private boolean sending = true;
  private long pacerTimer = -1;
  /** Open loop: due times of requests waiting for a free connection. */
  private final java.util.ArrayDeque<Long> backlog = new java.util.ArrayDeque<>();
  private final String host;
  private final int port;
  private final String uri;

  public DriverOptions options() {
    return options;
  }

  public LoadDriver(DriverOptions options) {
    this.options = options;
    this.host = options.url().getHost();
    this.port = options.url().getPort() > 0 ? options.url().getPort() : 80;
    this.uri = options.url().getRawPath() + (options.url().getRawQuery() == null ? "" : "?" + options.url().getRawQuery());
  }

  /** The run's outcome, once it is over. */
  public Future<RunResult> result() {
    return done.future();
  }

  @Override
  public Future<?> start() {
    client = vertx.httpClientBuilder()
        .with(new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true).setIdleTimeout(60)
            .setConnectTimeout(5_000).setMaxInitialLineLength(16_384))
        .with(new PoolOptions().setHttp1MaxSize(options.connections()))
        .build();
    body = options.scenario().body(options.bodyBytes());
    startNanos = System.nanoTime();
    measureStartNanos = startNanos + options.warmup().toNanos();
    endNanos = measureStartNanos + options.duration().toNanos();
    if (options.openLoop()) {
      startPacer();
    } else {
      for (int i = 0; i < options.connections(); i++) {
        user();
      }
    }
    vertx.setTimer(TimeUnit.NANOSECONDS.toMillis(endNanos - startNanos), id -> {
      sending = false;
      maybeFinish();
    });
    vertx.setTimer(TimeUnit.NANOSECONDS.toMillis(endNanos - startNanos + DRAIN), id -> finish());
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    if (pacerTimer >= 0) {
      vertx.cancelTimer(pacerTimer);
    }
    return client.close();
  }

  /**
   * Every millisecond (a timer on the driver's own event loop, so no cross-thread wake-ups) sends
   * every request that has come due. A request can leave up to a timer tick after it was due; that
   * wait counts in its latency, the same for every target. During the warm-up the rate ramps from
   * 10 % to 100 %, so neither the driver's nor the target's cold JIT builds a backlog that would
   * still be draining when measuring starts.
   */
  private void startPacer() {
    double warmupSeconds = options.warmup().toNanos() / 1e9;
    double[] nextDue = {0};
    pacerTimer = vertx.setPeriodic(1, id -> {
      long now = System.nanoTime();
      long due;
      while ((due = startNanos + (long) (nextDue[0] * 1e9)) <= now && due < endNanos) {
        fire(due);
        double t = nextDue[0];
        double rate = t < warmupSeconds ? options.rate() * (0.1 + 0.9 * t / warmupSeconds) : options.rate();
        nextDue[0] = t + 1 / rate;
      }
      if (due >= endNanos) {
        vertx.cancelTimer(id);
        pacerTimer = -1;
        maybeFinish();
      }
    });
  }

  /**
   * Sends a due request on a free connection, or queues it here (not in the client's pool) until
   * one is free, as wrk2 does; its latency still counts from when it was due.
   */
  private void fire(long dueNanos) {
    boolean measured = dueNanos >= measureStartNanos;
    if (inFlight < options.connections()) {
      send(dueNanos);
      return;
    }
    if (backlog.size() >= options.maxInFlight()) {
      recorder.failure(measured, "driver_backlog");
      return;
    }
    backlog.add(dueNanos);
  }

  private void send(long dueNanos) {
    exchange(dueNanos, dueNanos >= measureStartNanos).onComplete(v -> {
      Long next = backlog.poll();
      if (next != null) {
        send(next);
      } else {
        maybeFinish();
      }
    });
  }

  /** A closed-loop user: the next request as soon as the last one ended. */
  private void user() {
    if (!sending || System.nanoTime() >= endNanos) {
      maybeFinish();
      return;
    }
    long now = System.nanoTime();
    exchange(now, now >= measureStartNanos).onComplete(v -> user());
  }

  private Future<Void> exchange(long dueNanos, boolean measured) {
    inFlight++;
    long sent = System.nanoTime();
    long[] firstChunk = {0};
    RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST).setHost(host).setPort(port).setURI(uri)
        .putHeader("content-type", "application/json");
    if (!options.keys().isEmpty()) {
      request.putHeader("authorization", "Bearer " + options.keys().get(random.nextInt(options.keys().size())));
    }
    return client.request(request)
        .compose(req -> req.send(body))
        .compose(resp -> read(resp, firstChunk))
        .andThen(ar -> {
          inFlight--;
          long end = System.nanoTime();
          if (ar.failed()) {
            recorder.failure(measured, errorKind(ar.cause()));
            return;
          }
          int status = ar.result();
          boolean ok = options.expected().contains(status);
          recorder.response(measured, status, !ok, "http_" + status);
          if (measured) {
            recorder.timing(dueNanos, sent, firstChunk[0], end);
          }
        })
        .mapEmpty();
  }

  /**
   * Reads the whole response; an SSE stream must end with {@code [DONE]} or it counts as truncated.
   * Only the stream's last bytes are kept for that check, since the marker may straddle two chunks.
   */
  private Future<Integer> read(HttpClientResponse resp, long[] firstChunk) {
    int status = resp.statusCode();
    if (!options.scenario().streaming() || status != 200) {
      return resp.body().map(b -> status);
    }
    StreamTail tail = new StreamTail();
    resp.handler(chunk -> {
      if (firstChunk[0] == 0) {
        firstChunk[0] = System.nanoTime();
      }
      tail.add(chunk);
    });
    return resp.end().compose(v -> tail.endsWithDone() ? Future.succeededFuture(status)
        : Future.failedFuture(new IllegalStateException("sse_truncated")));
  }

  /** The last {@link #TAIL_BYTES} bytes of a stream. */
  static final class StreamTail {
    private final byte[] bytes = new byte[TAIL_BYTES];
    private int length;

    void add(Buffer chunk) {
      int n = chunk.length();
      if (n >= TAIL_BYTES) {
        chunk.getBytes(n - TAIL_BYTES, n, bytes, 0);
        length = TAIL_BYTES;
        return;
      }
      int keep = Math.min(length, TAIL_BYTES - n);
      System.arraycopy(bytes, length - keep, bytes, 0, keep);
      chunk.getBytes(0, n, bytes, keep);
      length = keep + n;
    }

    boolean endsWithDone() {
      return new String(bytes, 0, length, StandardCharsets.US_ASCII).stripTrailing().endsWith("data: [DONE]");
    }
  }

  static String errorKind(Throwable err) {
    if (err instanceof ConnectException) {
      return "connect_refused";
    }
    if (err instanceof HttpClosedException) {
      return "connection_closed";
    }
    if (err instanceof TimeoutException || (err.getMessage() != null && err.getMessage().toLowerCase().contains("timeout"))) {
      return "timeout";
    }
    if (err instanceof IllegalStateException && "sse_truncated".equals(err.getMessage())) {
      return "sse_truncated";
    }
    if (err instanceof VertxException && err.getMessage() != null && err.getMessage().contains("closed")) {
      return "connection_closed";
    }
    return err.getClass().getSimpleName();
  }

  private void maybeFinish() {
    if (!sending && inFlight == 0 && backlog.isEmpty() && pacerTimer < 0) {
      finish();
    }
  }

  private void finish() {
    if (done.future().isComplete()) {
      return;
    }
    if (inFlight + backlog.size() > 0) {
      recorder.errors.merge("unfinished_at_end", (long) inFlight + backlog.size(), Long::sum);
    }
    long measuredEnd = Math.max(endNanos, recorder.lastCompletionNanos);
    done.complete(new RunResult(options, recorder, (measuredEnd - measureStartNanos) / 1e9));
  }
}
