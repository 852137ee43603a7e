package io.tollgate.gateway.proxy;

import io.vertx.httpproxy.ProxyContext;
import java.time.Duration;

/**
 * What the proxy steps share about a client that hangs up, as attachments of the
 * {@link ProxyContext}. A client abort is the client's doing: it is counted apart from upstream
 * failures ({@code tollgate_proxy_client_aborts_total}) and never answered with a 5xx.
 */
public final class ClientAborts {

  /** How long (ms) the upstream request is kept after its client hung up; see {@link #keepUpstream(ProxyContext, Duration)}. */
  static final String KEEP_UPSTREAM = "tollgate.keepUpstreamOnAbort";
  /** {@link System#nanoTime()} when the client was first seen gone. */
  static final String ABORTED_AT = "tollgate.abortedAt";
  /** {@code Boolean.TRUE} once the upstream request has been sent in full. */
  static final String FORWARDED = "tollgate.forwarded";
  static final String JUDGED_ABORTED = "tollgate.judgedAborted";
  /** The phase the abort was counted in, so that it is counted once. */
  static final String COUNTED = "tollgate.clientAbortCounted";
  /** The status recorded for an exchange whose client hung up (nginx's "client closed request"). */
  public static final int STATUS = 499;

  private ClientAborts() {
  }

  /** True when the client's connection has closed before its response was complete. */
  public static boolean clientGone(ProxyContext context) {
    return context.request().proxiedRequest().response().closed();
  }

  /** True when the upstream request was sent in full, so the upstream may be doing (and billing) the work. */
  public static boolean forwarded(ProxyContext context) {
    return Boolean.TRUE.equals(context.get(FORWARDED, Boolean.class));
  }

  /**
   * Asks the proxy not to cancel the upstream request when the client hangs up after it was sent
   * in full, so that a step can read the upstream's answer itself (the metering step, under
   * {@code metering.clientAbort: drain}). The proxy keeps it at most {@code bound} after the
   * abort, then cancels the request.
   */
  public static void keepUpstream(ProxyContext context, Duration bound) {
    context.set(KEEP_UPSTREAM, bound.toMillis());
  }

  /** What is left of the bound given to {@link #keepUpstream} since the abort (the whole bound if none is recorded). */
  public static long remainingMillis(ProxyContext context, Duration bound) {
    Long abortedAt = context.get(ABORTED_AT, Long.class);
    long elapsed = abortedAt == null ? 0 : (System.nanoTime() - abortedAt) / 1_000_000;
    return Math.max(1, bound.toMillis() - elapsed);
  }

  /**
   * How long to keep the upstream request instead of resetting it, or null to reset it. A reset
   * from a failed response pipe ({@code fromFailedPipe}) is kept too: when writing to a client that
   * hung up fails before its connection's close is handled, the client is not yet seen gone.
   */
  static Long keptFor(ProxyContext context, boolean fromFailedPipe) {
    Long millis = context.get(KEEP_UPSTREAM, Long.class);
    return millis != null && forwarded(context) && (fromFailedPipe || clientGone(context)) ? millis : null;
  }

  /** Records that a step judged the failed response a client abort (see {@link #judgedAborted}). */
  public static void judgeAborted(ProxyContext context) {
    context.set(JUDGED_ABORTED, Boolean.TRUE);
  }

  /** True when the client is gone, or a step found the response failed on the client's side. */
  static boolean judgedAborted(ProxyContext context) {
    return clientGone(context) || Boolean.TRUE.equals(context.get(JUDGED_ABORTED, Boolean.class));
  }

  /** Counts the abort once per exchange, in the phase it was first seen. */
  static void count(ProxyContext context, ProxyMetrics metrics, String phase) {
    if (context.get(COUNTED, String.class) == null) {
      context.set(COUNTED, phase);
      metrics.clientAbort(phase);
    }
  }
}
