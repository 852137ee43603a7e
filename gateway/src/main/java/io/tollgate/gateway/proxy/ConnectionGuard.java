package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keeps one listening port available under a flood of connections. At most {@code max}
 * connections are open at once; any more are closed as they arrive, so idle or half-sent requests
 * cannot use up the process's file descriptors (which the other port needs too). A connection
 * that has not delivered a complete request head within the header timeout — counted from its
 * opening, or from the end of its previous response — is closed: checked every header timeout,
 * so a slow head is cut after one to two timeouts. One guard per port, shared by that port's
 * verticle instances; each port has its own, so a flooded proxy port leaves the admin port's
 * {@code /health} reachable.
 */
public final class ConnectionGuard {

  private final int max;
  private final long headerTimeoutMillis;
  private final AtomicInteger open = new AtomicInteger();
  private final Map<HttpConnection, Watch> watches = new ConcurrentHashMap<>();
  private final Counter refused;
  private final Counter timedOut;

  /** {@code port} names the port in metrics: {@code proxy} or {@code admin}. */
  public ConnectionGuard(String port, int max, Duration headerTimeout, MeterRegistry registry) {
    this.max = max;
    this.headerTimeoutMillis = Math.max(1, headerTimeout.toMillis());
    Gauge.builder("tollgate_connections_open", open, AtomicInteger::get)
        .description("Client connections open on a port").tag("port", port).register(registry);
    refused = Counter.builder("tollgate_connections_refused")
        .description("Connections closed on arrival because the port already had its maximum open").tag("port", port)
        .register(registry);
    timedOut = Counter.builder("tollgate_connections_header_timeouts")
        .description("Connections closed because no complete request head arrived in time").tag("port", port)
        .register(registry);
  }

  /** Installs the guard on {@code server} in front of {@code requests}; returns the server. */
  public HttpServer guard(Vertx vertx, HttpServer server, Handler<HttpServerRequest> requests) {
    return server.connectionHandler(conn -> opened(vertx, conn)).requestHandler(request -> {
      requested(request);
      requests.handle(request);
    });
  }

  private void opened(Vertx vertx, HttpConnection conn) {
    if (open.incrementAndGet() > max) {
      open.decrementAndGet();
      refused.increment();
      conn.close();
      return;
    }
    Watch watch = new Watch(vertx, conn);
    watches.put(conn, watch);
    conn.closeHandler(v -> {
      open.decrementAndGet();
      Watch gone = watches.remove(conn);
      if (gone != null) {
        gone.cancel();
      }
    });
    watch.arm();
  }

  private void requested(HttpServerRequest request) {
    Watch watch = watches.get(request.connection());
    if (watch == null) {
      return;
    }
    if (request.version() == HttpVersion.HTTP_2) {
      // Streams interleave on one h2 connection, so "the current request" means nothing there:
      // once h2 is spoken the idle timeout alone applies.
      watches.remove(request.connection());
      watch.cancel();
      return;
    }
    watch.seen(request);
  }

  /** One HTTP/1.x connection's wait for its next request head. Touched only on its event loop. */
  private final class Watch {
    private final Vertx vertx;
    private final HttpConnection conn;
    private HttpServerRequest last;
    private long requests;
    private long requestsAtArm;
    private long timer = -1;

    Watch(Vertx vertx, HttpConnection conn) {
      this.vertx = vertx;
      this.conn = conn;
    }

    void seen(HttpServerRequest request) {
      last = request;
      requests++;
    }

    void arm() {
      requestsAtArm = requests;
      timer = vertx.setTimer(headerTimeoutMillis, id -> check());
    }

    private void check() {
      boolean answering = last != null && !last.response().ended();
      if (answering || requests != requestsAtArm) {
        // A request is being answered (an SSE stream may take minutes), or a new head arrived
        // since the last check: the clock restarts.
        arm();
        return;
      }
      timedOut.increment();
      conn.close();
    }

    void cancel() {
      if (timer >= 0) {
        vertx.cancelTimer(timer);
      }
    }
  }
}
