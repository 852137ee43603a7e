package io.tollgate.gateway.proxy;

import io.tollgate.gateway.errors.GatewayFailure;
import io.vertx.httpproxy.ProxyContext;

/**
 * Marks a proxied request the gateway answered itself (refused, or failed upstream), so that the
 * outermost interceptor, which sees every response once, counts it under its error code.
 */
public final class GatewayAnswers {

  private static final String CODE = "tollgate.failureCode";

  private GatewayAnswers() {
  }

  /** Records that {@code failure} is the answer to this request. */
  public static void answered(ProxyContext context, GatewayFailure failure) {
    context.set(CODE, failure.code());
  }

  /** The error code of the gateway's own answer, or null if the upstream answered. */
  static String code(ProxyContext context) {
    return context.get(CODE, String.class);
  }
}
