package io.tollgate.gateway.proxy;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.httpproxy.ProxyContext;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.TimeoutException;

/**
 * The upstream request as vertx-http-proxy sees it, except that a client hanging up does not
 * cancel it when a step asked to keep it ({@link ClientAborts#KEEP_UPSTREAM}) and it was sent in
 * full. vertx-http-proxy 5.0.10 resets the upstream request as soon as the client's connection
 * closes (its {@code ProxiedRequest} makes the client response's exception handler reset it, and
 * a failed response pipe resets it again): that would throw away an answer the upstream is
 * already doing, and billing the operator for. Resets for any other reason (the response timeout,
 * a drain that ran out of bounds) go to the real request, which they reach directly.
 *
 * <p>{@code HttpClientRequest} has some sixty methods: a dynamic proxy forwards them all and only
 * looks at {@code end} (the request is then forwarded in full) and {@code reset}.
 */
final class DetachableUpstreamRequest implements InvocationHandler {

  /** The upstream's answer did not end within the bound it was kept for after its client left. */
  static final class KeptTooLongException extends TimeoutException {
    KeptTooLongException(long millis) {
      super("the client hung up and the upstream's answer did not end within " + millis + " ms after");
    }
  }

  private final Vertx vertx;
  private final HttpClientRequest request;
  private final ProxyContext context;
  private final ProxyMetrics metrics;
  private boolean kept;

  private DetachableUpstreamRequest(Vertx vertx, HttpClientRequest request, ProxyContext context, ProxyMetrics metrics) {
    this.vertx = vertx;
    this.request = request;
    this.context = context;
    this.metrics = metrics;
  }

  static HttpClientRequest wrap(Vertx vertx, HttpClientRequest request, ProxyContext context, ProxyMetrics metrics) {
    return (HttpClientRequest) Proxy.newProxyInstance(HttpClientRequest.class.getClassLoader(),
        new Class<?>[] {HttpClientRequest.class}, new DetachableUpstreamRequest(vertx, request, context, metrics));
  }

  @Override
  public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
    String name = method.getName();
    if (name.equals("reset")) {
      // vertx-http-proxy resets with the client's close exception when the client hangs up, and
      // with no argument when the response pipe failed.
      boolean fromFailedPipe = args == null || args.length == 0;
      Long keepFor = ClientAborts.keptFor(context, fromFailedPipe);
      if (keepFor != null) {
        keep(keepFor);
        return Future.succeededFuture();
      }
    }
    if (name.equals("end")) {
      context.set(ClientAborts.FORWARDED, Boolean.TRUE);
    }
    try {
      Object result = method.invoke(request, args);
      // Fluent setters answer the real request; keep the caller on the proxy.
      return result == request ? proxy : result;
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /**
   * First time only: bound how long the upstream is kept for the client that left. A reader of the
   * body (the metering drain) bounds it too; this also covers an upstream that goes quiet while
   * nobody reads, before its head or between chunks.
   */
  private void keep(long millis) {
    if (kept) {
      return;
    }
    kept = true;
    context.set(ClientAborts.ABORTED_AT, System.nanoTime());
    if (ClientAborts.clientGone(context)) {
      // Otherwise (a failed pipe) the forwarding step counts it, once the failure is judged.
      ClientAborts.count(context, metrics,
          context.request().proxiedRequest().response().headWritten() ? "during_body" : "before_response");
    }
    long timer = vertx.setTimer(millis, id -> request.reset(0, new KeptTooLongException(millis)));
    request.response().compose(HttpClientResponse::end).onComplete(done -> vertx.cancelTimer(timer));
  }
}
