package io.tollgate.loadtests.driver;

import io.vertx.core.Context;
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
import java.util.concurrent.locks.LockSupport;

/**
 * Drives one run from its own event loop: an open-loop constant arrival rate (a pacer thread
 * decides when each request is due; its latency counts from then, so a stalled server is charged
 * for every request it delayed — no coordinated omission), or a closed loop of N users each
 * sending the next request when the last one ends (max throughput). Warm-up requests are sent but
 * not recorded. {@link #result()} completes when every measured request has ended, or after
 * {@link #DRAIN} past the end.
 */
public final class LoadDriver extends VerticleBase {

  static final long DRAIN = TimeUnit.SECONDS.toNanos(30);
  private static final byte[] SSE_DONE = "[DONE]".getBytes(StandardCharsets.US_ASCII);

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
  private Thread pacer;

  public DriverOptions options() {
    return options;
  }

  public LoadDriver(DriverOptions options) {
    this.options = options;
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
      startPacer(context);
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
    if (pacer != null) {
      pacer.interrupt();
    }
    return client.close();
  }

  /**
   * Decides on a plain thread when each request is due (parkNanos is far finer than Vert.x
   * timers' milliseconds) and hands every due request to the event loop in one task.
   */
  private void startPacer(Context ctx) {
    double interval = 1e9 / options.rate();
    pacer = new Thread(() -> {
      long next = 0;
      while (!Thread.currentThread().isInterrupted()) {
        long due = startNanos + (long) (next * interval);
        if (due >= endNanos) {
          ctx.runOnContext(v -> maybeFinish());
          return;
        }
        long wait = due - System.nanoTime();
        if (wait > 20_000) {
          LockSupport.parkNanos(wait);
          continue;
        }
        long now = System.nanoTime();
        long first = next;
        while (startNanos + (long) (next * interval) <= now && startNanos + (long) (next * interval) < endNanos) {
          next++;
        }
        long last = Math.max(first + 1, next);
        next = last;
        ctx.runOnContext(v -> {
          for (long i = first; i < last; i++) {
            fire(startNanos + (long) (i * interval));
          }
        });
      }
    }, "load-driver-pacer");
    pacer.setDaemon(true);
    pacer.start();
  }

  private void fire(long dueNanos) {
    boolean measured = dueNanos >= measureStartNanos;
    if (inFlight >= options.maxInFlight()) {
      recorder.failure(measured, "driver_backlog");
      return;
    }
    exchange(dueNanos, measured).onComplete(v -> maybeFinish());
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
    RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(options.url().toString())
        .putHeader("content-type", "application/json").setIdleTimeout(60_000);
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

  /** Reads the whole response; an SSE stream must end with {@code [DONE]} or it counts as truncated. */
  private Future<Integer> read(HttpClientResponse resp, long[] firstChunk) {
    int status = resp.statusCode();
    if (!options.scenario().streaming() || status != 200) {
      return resp.body().map(b -> status);
    }
    boolean[] sawDone = {false};
    resp.handler(chunk -> {
      if (firstChunk[0] == 0) {
        firstChunk[0] = System.nanoTime();
      }
      if (!sawDone[0] && contains(chunk, SSE_DONE)) {
        sawDone[0] = true;
      }
    });
    return resp.end().compose(v -> sawDone[0] ? Future.succeededFuture(status)
        : Future.failedFuture(new IllegalStateException("sse_truncated")));
  }

  private static boolean contains(Buffer chunk, byte[] needle) {
    byte[] bytes = chunk.getBytes();
    outer:
    for (int i = 0; i + needle.length <= bytes.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (bytes[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
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
    if (!sending && inFlight == 0 && (pacer == null || !pacer.isAlive())) {
      finish();
    }
  }

  private void finish() {
    if (done.future().isComplete()) {
      return;
    }
    if (inFlight > 0) {
      recorder.errors.merge("unfinished_at_end", (long) inFlight, Long::sum);
    }
    long measuredEnd = Math.max(endNanos, recorder.lastCompletionNanos);
    done.complete(new RunResult(options, recorder, (measuredEnd - measureStartNanos) / 1e9));
  }
}
