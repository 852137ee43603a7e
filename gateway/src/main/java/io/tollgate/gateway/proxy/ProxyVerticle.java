package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.ServerConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.config.UpstreamClientConfig;
import io.tollgate.gateway.errors.GatewayFailure;
import io.tollgate.gateway.errors.OpenAiErrors;
import io.tollgate.gateway.webhooks.WebhookIntake;
import io.tollgate.gateway.charging.HotPath;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The public port: matches each request to a route and hands it to that route's proxy. Requests
 * that can be refused without touching an upstream (unknown route, dot segments, declared body
 * over the limit) are answered here.
 */
public final class ProxyVerticle extends VerticleBase {

  private static final org.slf4j.Logger ACCESS = org.slf4j.LoggerFactory.getLogger("tollgate.access");

  private final TollgateConfig config;
  private final MeterRegistry registry;
  private final HotPath metering;
  private final WebhookIntake webhooks;
  private HttpClientAgent client;
  private HttpServer server;
  private RouteTable<RouteProxy> routes;

  public ProxyVerticle(TollgateConfig config, MeterRegistry registry, HotPath metering, WebhookIntake webhooks) {
    this.config = config;
    this.registry = registry;
    this.metering = metering;
    this.webhooks = webhooks;
  }

  @Override
  public Future<?> start() {
    UpstreamClientConfig upstream = config.upstreamClient();
    client = vertx.httpClientBuilder()
        .with(clientOptions(upstream))
        .with(new PoolOptions()
            .setHttp1MaxSize(upstream.maxConnectionsPerUpstream())
            .setHttp2MaxSize(Math.max(1, upstream.maxConnectionsPerUpstream() / 64))
            .setMaxWaitQueueSize(-1))
        .build();
    routes = RouteTable.build(config.routes(), r -> r.prefix(),
        r -> new RouteProxy(vertx, client, r, upstream, config.server().maxBodyBytes(), registry, metering));
    ServerConfig server = config.server();
    this.server = vertx.createHttpServer(new HttpServerOptions()
            .setHost(server.host())
            .setPort(server.port())
            .setTcpNoDelay(true)
            .setHandle100ContinueAutomatically(true)
            .setMaxHeaderSize(32 * 1024)
            .setIdleTimeout((int) Math.max(1, upstream.idleTimeout().toSeconds()))
            .setIdleTimeoutUnit(TimeUnit.SECONDS))
        .requestHandler(this::handle);
    return this.server.listen();
  }

  @Override
  public Future<?> stop() {
    // shutdown() stops accepting, lets in-flight requests finish within the grace period.
    return server.shutdown(config.server().shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)
        .eventually(() -> client.close());
  }

  private static HttpClientOptions clientOptions(UpstreamClientConfig upstream) {
    HttpClientOptions options = new HttpClientOptions()
        .setKeepAlive(true)
        .setTcpNoDelay(true)
        .setConnectTimeout((int) upstream.connectTimeout().toMillis())
        .setDecompressionSupported(false);
    if (upstream.http2()) {
      // h2 is negotiated by ALPN on TLS upstreams; plain-text upstreams stay on HTTP/1.1.
      options.setProtocolVersion(HttpVersion.HTTP_2).setUseAlpn(true).setHttp2ClearTextUpgrade(false);
    }
    return options;
  }

  private void handle(HttpServerRequest request) {
    String requestId = RequestIds.of(request);
    request.response().putHeader(RequestIds.HEADER, requestId);
    String path = request.path();
    if (WebhookIntake.PATH.equals(path)) {
      webhooks.handle(request);
      return;
    }
    RouteProxy route = path == null ? null : routes.match(path);
    if (route == null) {
      refuse(request, GatewayFailure.notFound("no route matches path " + abbreviate(path)));
      return;
    }
    if (hasDotSegment(path)) {
      refuse(request, GatewayFailure.badRequest("invalid_path", "path must not contain '.' or '..' segments"));
      return;
    }
    String declared = request.getHeader("content-length");
    if (declared != null) {
      long length;
      try {
        length = Long.parseLong(declared.trim());
      } catch (NumberFormatException e) {
        refuse(request, GatewayFailure.badRequest("invalid_content_length", "Content-Length is not a number"));
        return;
      }
      if (length > config.server().maxBodyBytes()) {
        refuse(request, GatewayFailure.tooLarge(config.server().maxBodyBytes()));
        return;
      }
    }
    route.handle(request);
  }

  /**
   * Answers without forwarding. The body (if any) is not read, so the connection is closed after
   * the answer rather than left with unread bytes in front of the next request.
   */
  private static void refuse(HttpServerRequest request, GatewayFailure failure) {
    if (ACCESS.isInfoEnabled()) {
      ACCESS.atInfo().addKeyValue("requestId", request.response().headers().get(RequestIds.HEADER))
          .addKeyValue("method", request.method().name()).addKeyValue("status", failure.status())
          .addKeyValue("code", failure.code()).log("refused");
    }
    boolean hasBody = request.getHeader("content-length") != null || request.getHeader("transfer-encoding") != null;
    boolean closeAfter = hasBody && request.version() != HttpVersion.HTTP_2;
    if (closeAfter) {
      request.response().putHeader("connection", "close");
    }
    OpenAiErrors.send(request.response(), failure).onComplete(sent -> {
      if (closeAfter) {
        request.connection().close();
      }
    });
  }

  /**
   * True when a segment is "." or "..", plain or percent-encoded ({@code %2e}, any case, mixed
   * with plain dots): one or two dot units and nothing else. Scanned in place (every request
   * passes here), without lower-casing or splitting the path.
   */
  static boolean hasDotSegment(String path) {
    int n = path.length();
    int start = 0;
    while (start <= n) {
      int slash = path.indexOf('/', start);
      int end = slash < 0 ? n : slash;
      int units = 0;
      int i = start;
      while (i < end && units <= 2) {
        if (path.charAt(i) == '.') {
          i++;
        } else if (i + 3 <= end && path.charAt(i) == '%' && path.charAt(i + 1) == '2' && (path.charAt(i + 2) | 0x20) == 'e') {
          i += 3;
        } else {
          break;
        }
        units++;
      }
      if (i == end && units >= 1 && units <= 2) {
        return true;
      }
      if (slash < 0) {
        return false;
      }
      start = slash + 1;
    }
    return false;
  }

  private static String abbreviate(String path) {
    if (path == null) {
      return "(none)";
    }
    return path.length() <= 200 ? path : path.substring(0, 200) + "…";
  }

  /** Prefixes served, for the startup log. */
  public List<String> prefixes() {
    return config.routes().stream().map(r -> r.prefix()).toList();
  }
}
