package io.tollgate.gateway.proxy;

import io.vertx.core.Future;
import io.vertx.httpproxy.ProxyContext;
import io.vertx.httpproxy.ProxyInterceptor;
import io.vertx.httpproxy.ProxyResponse;

/**
 * Measures the time the gateway itself adds to a proxied request: from arrival to the moment the
 * request is forwarded (authentication, admission, body inspection), plus from the upstream's
 * response headers to the client's (usage observation set-up, header shaping). The upstream's own
 * time is not in it, so the figure means the same for a 20 ms JSON answer and a 2-minute stream.
 * Outermost interceptor: it sees the request first and the response last, so it also counts
 * every response.
 */
final class OverheadInterceptor implements ProxyInterceptor {

  static final String ARRIVED_AT = "tollgate.arrivedAt";
  static final String UPSTREAM_ANSWERED_AT = "tollgate.upstreamAnsweredAt";

  private final ProxyMetrics metrics;

  OverheadInterceptor(ProxyMetrics metrics) {
    this.metrics = metrics;
  }

  @Override
  public Future<ProxyResponse> handleProxyRequest(ProxyContext context) {
    context.set(ARRIVED_AT, System.nanoTime());
    return context.sendRequest();
  }

  @Override
  public Future<Void> handleProxyResponse(ProxyContext context) {
    Long arrived = context.get(ARRIVED_AT, Long.class);
    Long forwarded = context.get(ForwardingInterceptor.STARTED_AT, Long.class);
    Long answered = context.get(UPSTREAM_ANSWERED_AT, Long.class);
    // Only requests that reached the upstream and got an answer: a refusal at admission or an
    // upstream failure has no "upstream time" to subtract.
    if (arrived != null && forwarded != null && answered != null && context.response().proxiedResponse() != null) {
      metrics.overhead((forwarded - arrived) + (System.nanoTime() - answered));
    }
    // Outermost, so every response passes here exactly once, also those an inner interceptor
    // answered itself without going further in (401, 402, 403, 429, 503 from metering).
    // A client already gone gets no response: it is counted as an abort, not by status.
    if (ClientAborts.clientGone(context)) {
      ClientAborts.count(context, metrics, "before_response");
    } else {
      metrics.answered(context.response().getStatusCode(), GatewayAnswers.code(context));
    }
    return context.sendResponse();
  }
}
