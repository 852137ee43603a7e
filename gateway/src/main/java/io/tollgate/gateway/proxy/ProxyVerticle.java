package io.tollgate.gateway.proxy;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.ServerConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.config.UpstreamClientConfig;
import io.tollgate.gateway.charging.HotPath;
import io.tollgate.gateway.errors.GatewayFailure;
import io.tollgate.gateway.errors.OpenAiErrors;
import io.tollgate.gateway.ingest.IngestApi;
import io.tollgate.gateway.webhooks.WebhookIntake;
import io.tollgate.metering.actions.ActionIngest;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

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
  private final ConnectionGuard guard;
  private final ActionIngest actionIngest;
  private IngestApi ingest;
  private HttpClientAgent client;
  private ProxyMetrics unrouted;
  /** Connections to close after the request being answered; only this verticle's event loop touches it. */
  private final Set<HttpConnection> closing = Collections.newSetFromMap(new WeakHashMap<>());
  private HttpServer server;
  private final AtomicLong upstreamConnections;
  private RouteTable<RouteProxy> routes;

  /**
   * {@code guard} is the proxy port's and {@code upstreamConnections} the gateway's count of open
   * upstream connections ({@link #upstreamConnections(MeterRegistry)}), both shared by every instance of this verticle.
   */
  public ProxyVerticle(TollgateConfig config, MeterRegistry registry, HotPath metering, WebhookIntake webhooks,
                       ConnectionGuard guard, ActionIngest actionIngest, AtomicLong upstreamConnections) {
    this.config = config;
    this.registry = registry;
    this.metering = metering;
    this.webhooks = webhooks;
    this.guard = guard;
    this.actionIngest = actionIngest;
    this.upstreamConnections = upstreamConnections;
  }

  /**
   * Registers {@code tollgate_upstream_connections}, the connections open to upstreams, and returns
   * its counter: created once per gateway and shared by every proxy verticle. It replaces Vert.x's
   * HTTP client metrics, which are off: they registered six meters per upstream request (issue
   * 18's profile) for a dashboard that needs only this count and {@code tollgate_upstream_response_time}.
   */
  public static AtomicLong upstreamConnections(MeterRegistry registry) {
    AtomicLong open = new AtomicLong();
    Gauge.builder("tollgate_upstream_connections", open, AtomicLong::get)
        .description("Connections open from the gateway to upstreams")
        .strongReference(true)
        .register(registry);
    return open;
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
        .withConnectHandler(conn -> {
          upstreamConnections.incrementAndGet();
          conn.closeHandler(v -> upstreamConnections.decrementAndGet());
        })
        .build();
    routes = RouteTable.build(config.routes(), r -> r.prefix(),
        r -> new RouteProxy(vertx, client, r, upstream, config.server().maxBodyBytes(), registry, metering));
    unrouted = ProxyMetrics.unrouted(registry);
    ingest = new IngestApi(vertx, metering, actionIngest);
    ServerConfig server = config.server();
    this.server = guard.guard(vertx, vertx.createHttpServer(new HttpServerOptions()
            .setHost(server.host())
            .setPort(server.port())
            .setTcpNoDelay(true)
            .setHandle100ContinueAutomatically(true)
            // HTTP/1.1 only (h2 is for upstreams, over TLS): with cleartext h2 on, Vert.x would not
            // hand over a connection until its first bytes show which protocol it speaks, so a
            // connection that sends nothing would escape the connection guard's cap and timeout.
            .setHttp2ClearTextEnabled(false)
            .setMaxHeaderSize(32 * 1024)
            .setIdleTimeout((int) Math.max(1, upstream.idleTimeout().toSeconds()))
            .setIdleTimeoutUnit(TimeUnit.SECONDS)), this::handle);
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
    if (closing.contains(request.connection())) {
      // Bytes that followed a Transfer-Encoding request on its connection (Vert.x parses them
      // as a pipelined request before the close lands): never served, never forwarded.
      request.connection().close();
      return;
    }
    if (request.version() != HttpVersion.HTTP_2 && request.headers().contains("transfer-encoding")) {
      closeAfterResponse(request);
    }
    String path = request.path();
    if (WebhookIntake.PATH.equals(path)) {
      webhooks.handle(request);
      return;
    }
    if (IngestApi.owns(path)) {
      // Tollgate's own API on the public port (billable actions): answered here, never proxied.
      ingest.handle(request);
      return;
    }
    RouteProxy route = path == null ? null : routes.match(path);
    if (route == null) {
      refuse(request, unrouted, GatewayFailure.notFound("no route matches path " + abbreviate(path)));
      return;
    }
    if (hasDotSegment(path)) {
      refuse(request, route.metrics(), GatewayFailure.badRequest("invalid_path", "path must not contain '.' or '..' segments"));
      return;
    }
    String declared = request.getHeader("content-length");
    if (declared != null) {
      long length;
      try {
        length = Long.parseLong(declared.trim());
      } catch (NumberFormatException e) {
        refuse(request, route.metrics(), GatewayFailure.badRequest("invalid_content_length", "Content-Length is not a number"));
        return;
      }
      if (length > config.server().maxBodyBytes()) {
        refuse(request, route.metrics(), GatewayFailure.tooLarge(config.server().maxBodyBytes()));
        return;
      }
    }
    route.handle(request);
  }

  /**
   * Answers without forwarding. The body (if any) is not forwarded, so the connection is closed
   * after the answer (once the rest of the body is discarded: {@link LingeringClose}) rather than
   * left with unread bytes in front of the next request.
   */
  private void refuse(HttpServerRequest request, ProxyMetrics metrics, GatewayFailure failure) {
    metrics.answered(failure.status(), failure.code());
    if (ACCESS.isInfoEnabled()) {
      ACCESS.atInfo().addKeyValue("requestId", request.response().headers().get(RequestIds.HEADER))
          .addKeyValue("method", request.method().name()).addKeyValue("status", failure.status())
          .addKeyValue("code", failure.code()).log("refused");
    }
    boolean hasBody = request.getHeader("content-length") != null || request.getHeader("transfer-encoding") != null;
    if (hasBody && request.version() != HttpVersion.HTTP_2) {
      // Nothing after this request on the connection is served, even while its body is discarded
      // (a chunked request is marked so already; marking it again changes nothing).
      closeAfterResponse(request);
    }
    OpenAiErrors.send(request.response(), failure);
  }

  /**
   * RFC 9112 §6.1: a request with Transfer-Encoding may also have carried a Content-Length, and
   * then the client and any intermediary may disagree on where its body ends; the connection must
   * be closed after the answer so that no bytes after the body are read as another request.
   * Netty drops the Content-Length of such a request before it reaches this handler (it keeps the
   * chunked framing), so the two cannot be told apart here: every HTTP/1.x request with
   * Transfer-Encoding gets {@code connection: close}, at the cost of one reconnect per chunked upload.
   */
  private void closeAfterResponse(HttpServerRequest request) {
    closing.add(request.connection());
    request.response().putHeader("connection", "close");
    request.response().endHandler(v -> LingeringClose.close(vertx, request));
  }

  /**
   * The request target as the upstream gets it: origin-form ({@code /path?query}). An absolute-form
   * target ({@code GET http://host/path}) is reduced to the path Vert.x parsed from it — the one
   * routed and checked for dot segments — so its scheme and authority never reach the upstream
   * as part of the path.
   */
  static String originForm(HttpServerRequest request) {
    String uri = request.uri();
    if (uri.startsWith("/")) {
      return uri;
    }
    String query = request.query();
    return query == null ? request.path() : request.path() + "?" + query;
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
