package io.tollgate.gateway.proxy;

import io.tollgate.gateway.errors.GatewayFailure;
import io.tollgate.gateway.errors.OpenAiErrors;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.httpproxy.Body;
import io.vertx.httpproxy.MediaType;
import io.vertx.httpproxy.ProxyContext;
import io.vertx.httpproxy.ProxyInterceptor;
import io.vertx.httpproxy.ProxyRequest;
import io.vertx.httpproxy.ProxyResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Shapes a client request into an upstream request and every upstream failure into a status
 * the client understands: the client's own credentials never leave the gateway, the route's
 * credential is injected, hop-by-hop fields are dropped both ways, the body is size-limited
 * while it streams, and a failed or timed-out upstream becomes a 502/504 envelope instead of
 * an empty error.
 */
final class ForwardingInterceptor implements ProxyInterceptor {

  private static final Logger log = LoggerFactory.getLogger(ForwardingInterceptor.class);
  /** One line per proxied request; off unless TOLLGATE_ACCESS_LOG=INFO (it costs throughput). */
  private static final Logger access = LoggerFactory.getLogger("tollgate.access");
  static final String STARTED_AT = "tollgate.startedAt";
  private static final MediaType JSON = MediaType.parse("application/json");
  // Pre-hashed header names: these are touched on every request.
  private static final CharSequence AUTHORIZATION = HttpHeaders.createOptimized("authorization");
  private static final CharSequence X_API_KEY = HttpHeaders.createOptimized("x-api-key");
  private static final CharSequence X_FORWARDED_FOR = HttpHeaders.createOptimized("x-forwarded-for");
  private static final CharSequence REQUEST_ID = HttpHeaders.createOptimized(RequestIds.HEADER);

  private final io.vertx.core.Vertx vertx;
  private final UpstreamTarget target;
  private final long maxBodyBytes;
  private final ProxyMetrics metrics;

  ForwardingInterceptor(io.vertx.core.Vertx vertx, UpstreamTarget target, long maxBodyBytes, ProxyMetrics metrics) {
    this.vertx = vertx;
    this.target = target;
    this.maxBodyBytes = maxBodyBytes;
    this.metrics = metrics;
  }

  @Override
  public Future<ProxyResponse> handleProxyRequest(ProxyContext context) {
    ProxyRequest request = context.request();
    HttpServerRequest client = request.proxiedRequest();
    String requestId = client.response().headers().get(REQUEST_ID);

    request.setURI(target.upstreamUri(ProxyVerticle.originForm(client)));
    MultiMap headers = request.headers();
    HopByHopHeaders.strip(headers);
    // The client's key authenticates it to Tollgate, never to the upstream.
    headers.remove(AUTHORIZATION);
    headers.remove(X_API_KEY);
    target.credentialHeader().ifPresent(name -> headers.set(name, target.credentialValue().orElseThrow()));
    headers.set(REQUEST_ID, requestId);
    String forwardedFor = headers.get(X_FORWARDED_FOR);
    String clientIp = client.remoteAddress() == null ? "unknown" : client.remoteAddress().hostAddress();
    headers.set(X_FORWARDED_FOR, forwardedFor == null ? clientIp : forwardedFor + ", " + clientIp);

    Body body = request.getBody();
    LimitedReadStream limited = null;
    if (body != null && body.length() < 0) {
      limited = new LimitedReadStream(body.stream(), maxBodyBytes);
      request.setBody(Body.body(limited, -1, body.mediaType()));
    }
    LimitedReadStream bodyGuard = limited;

    context.set(STARTED_AT, System.nanoTime());
    return context.sendRequest()
        .recover(error -> {
          GatewayFailure failure;
          if (ClientAborts.clientGone(context)) {
            // The client hung up and the upstream request was cancelled for it (or, kept for a
            // drain, sent no answer in time): the client's doing, not an upstream failure.
            ClientAborts.count(context, metrics, "before_response");
            failure = new GatewayFailure(ClientAborts.STATUS, "invalid_request_error", "client_closed_request",
                "the client closed the connection before the response");
            log.atDebug().addKeyValue("requestId", requestId).addKeyValue("route", target.prefix())
                .log("client hung up before the upstream answered: {}", error.toString());
          } else {
            failure = bodyGuard != null && bodyGuard.exceeded()
                ? GatewayFailure.tooLarge(maxBodyBytes)
                : UpstreamFailures.classify(error, target);
            GatewayAnswers.answered(context, failure);
            log.atWarn().addKeyValue("requestId", requestId).addKeyValue("route", target.prefix())
                .addKeyValue("status", failure.status()).addKeyValue("code", failure.code())
                .log("upstream request failed: {}", failure.getMessage());
          }
          ProxyResponse response = request.release().response()
              .setStatusCode(failure.status())
              .setBody(Body.body(OpenAiErrors.envelope(failure), JSON));
          if (failure.status() == 413) {
            // The rest of an oversize upload is not forwarded: the connection is closed after answering.
            response.putHeader("connection", "close");
          }
          return Future.succeededFuture(response);
        });
  }

  @Override
  public Future<Void> handleProxyResponse(ProxyContext context) {
    ProxyResponse response = context.response();
    Long startedAt = context.get(STARTED_AT, Long.class);
    if (startedAt != null && response.proxiedResponse() != null) {
      long answeredAt = System.nanoTime();
      context.set(OverheadInterceptor.UPSTREAM_ANSWERED_AT, answeredAt);
      metrics.upstreamLatency(answeredAt - startedAt);
    }
    if (response.proxiedResponse() != null) {
      HopByHopHeaders.strip(response.headers());
    }
    boolean closeAfter = response.getStatusCode() == 413 && response.proxiedResponse() == null;
    return context.sendResponse().andThen(sent -> {
      if (sent.failed() && ClientAborts.judgedAborted(context)) {
        ClientAborts.count(context, metrics, "during_body");
      }
      if (closeAfter) {
        // The rest of the oversize upload is discarded, within bounds, so the 413 is not lost to a reset.
        LingeringClose.close(vertx, context.request().proxiedRequest());
      }
      if (access.isInfoEnabled()) {
        HttpServerRequest client = context.request().proxiedRequest();
        access.atInfo()
            .addKeyValue("requestId", client.response().headers().get(RequestIds.HEADER))
            .addKeyValue("method", client.method().name())
            .addKeyValue("path", client.path())
            .addKeyValue("route", target.prefix())
            .addKeyValue("status", response.getStatusCode())
            .addKeyValue("durationMs", startedAt == null ? -1 : (System.nanoTime() - startedAt) / 1_000_000)
            .addKeyValue("outcome", sent.succeeded() ? "complete" : "aborted")
            .log("proxied");
      }
    });
  }
}
