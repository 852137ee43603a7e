package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.RouteConfig;
import io.tollgate.config.UpstreamClientConfig;
import io.tollgate.gateway.charging.MeteringInterceptor;
import io.tollgate.gateway.charging.HotPath;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.RequestOptions;
import io.vertx.httpproxy.HttpProxy;
import io.vertx.httpproxy.ProxyContext;
import io.vertx.httpproxy.ProxyOptions;

/**
 * One configured route: a {@link HttpProxy} (vertx-http-proxy, which streams both bodies with
 * back-pressure) pointed at the route's upstream, with the interceptors that make it a gateway.
 */
final class RouteProxy {

  private final Vertx vertx;
  private final UpstreamTarget target;
  /** Where every request of this route goes; built once (Vert.x only reads it), not per request. */
  private final RequestOptions upstreamOptions;
  private final long responseTimeoutMillis;
  private final boolean detachable;
  private final HttpProxy proxy;
  private final ProxyMetrics metrics;

  RouteProxy(Vertx vertx, HttpClient client, RouteConfig route, UpstreamClientConfig timeouts,
             long maxBodyBytes, MeterRegistry registry, HotPath metering) {
    this.vertx = vertx;
    this.target = UpstreamTarget.of(route);
    this.upstreamOptions = new RequestOptions()
        .setHost(target.host())
        .setPort(target.port())
        .setSsl(target.ssl())
        .setConnectTimeout(timeouts.connectTimeout().toMillis())
        .setIdleTimeout(timeouts.idleTimeout().toMillis());
    UpstreamSsl.of(route, timeouts).ifPresent(upstreamOptions::setSslOptions);
    this.responseTimeoutMillis = timeouts.responseTimeout().toMillis();
    // Only metered routes charge a client that hangs up (they need to know the request was sent in
    // full, and may keep it for a drain); the others keep vertx-http-proxy's plain request, since
    // the wrapper costs a reflective call per request method.
    this.detachable = route.metered();
    ProxyMetrics metrics = this.metrics = new ProxyMetrics(registry, target.prefix());
    // Order matters: metering authenticates and admits before anything is forwarded; on the way
    // back the forwarding step sees the response first, then metering observes and settles it.
    HttpProxy proxy = HttpProxy.reverseProxy(new ProxyOptions().setSupportWebSocket(false), client)
        .origin(this::openUpstreamRequest)
        .addInterceptor(new OverheadInterceptor(metrics));
    if (route.metered()) {
      proxy.addInterceptor(new MeteringInterceptor(metering, vertx, route, maxBodyBytes));
    }
    this.proxy = proxy.addInterceptor(new ForwardingInterceptor(vertx, target, maxBodyBytes, metrics));
  }

  ProxyMetrics metrics() {
    return metrics;
  }

  UpstreamTarget target() {
    return target;
  }

  void handle(HttpServerRequest request) {
    proxy.handle(request);
  }

  private Future<HttpClientRequest> openUpstreamRequest(ProxyContext context) {
    return context.client().request(upstreamOptions).andThen(opened -> {
      if (opened.succeeded()) {
        // Failures reach the interceptor through the response future; without a handler here Vert.x
        // would also log each deliberate reset (timeout, oversize body) as an unhandled error.
        opened.result().exceptionHandler(ignored -> { });
        armResponseTimeout(opened.result());
      }
    }).map(request -> detachable ? DetachableUpstreamRequest.wrap(vertx, request, context, metrics) : request);
  }

  /**
   * Idle timeouts alone would let an upstream that trickles keep-alive bytes hold a request
   * forever before answering; this bounds the wait for response headers. Once headers arrive,
   * only the idle timeout applies, so long SSE streams are not cut.
   */
  private void armResponseTimeout(HttpClientRequest request) {
    long millis = responseTimeoutMillis;
    long timer = vertx.setTimer(millis, id -> request.reset(0, new UpstreamFailures.ResponseTimeoutException(millis)));
    request.response().onComplete(done -> vertx.cancelTimer(timer));
  }
}
