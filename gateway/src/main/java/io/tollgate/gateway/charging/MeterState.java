package io.tollgate.gateway.charging;

import io.tollgate.gateway.measure.Usage;
import io.tollgate.gateway.measure.UsageObserver;

import io.tollgate.config.RouteConfig;
import io.tollgate.config.UsageFormat;
import io.tollgate.metering.admission.Reservation;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One admitted request, from admission to settlement. Settles exactly once, whatever ends the
 * exchange: a complete response, an upstream error (refund), or a client abort (charged per
 * {@code metering.clientAbort}, see {@link AbortCharge}).
 */
final class MeterState {

  private static final Logger log = LoggerFactory.getLogger(MeterState.class);
  private static final long[] RETRY_DELAYS_MS = {200, 1_000, 5_000};
  private static final int CLIENT_ABORT_STATUS = io.tollgate.gateway.proxy.ClientAborts.STATUS;

  private final HotPath m;
  private final Vertx vertx;
  private final RouteConfig route;
  private final Reservation reservation;
  private final RequestShape shape;
  private final String requestId;
  private final AtomicBoolean settled = new AtomicBoolean();
  private final long admittedNanos = System.nanoTime();
  private UsageObserver observer;
  private long upstreamLatencyMs = -1;

  MeterState(HotPath m, Vertx vertx, RouteConfig route, Reservation reservation, RequestShape shape, String requestId) {
    this.m = m;
    this.vertx = vertx;
    this.route = route;
    this.reservation = reservation;
    this.shape = shape;
    this.requestId = requestId;
  }

  RequestShape shape() {
    return shape;
  }

  void upstreamResponded() {
    upstreamLatencyMs = (System.nanoTime() - admittedNanos) / 1_000_000;
  }

  void observe(UsageObserver observer) {
    this.observer = observer;
  }

  /**
   * @param status      what the client got (upstream status, or the gateway's 502/504)
   * @param fromUpstream false when the upstream never answered (refund)
   * @param completed   false when the stream broke before its end (the upstream cut it; client aborts use {@link #settleAbort})
   */
  Future<Long> settle(int status, boolean fromUpstream, boolean completed) {
    if (!settled.compareAndSet(false, true)) {
      return Future.succeededFuture(-1L);
    }
    String outcome;
    long input = 0;
    long output = 0;
    boolean estimated = false;
    long credits;
    if (!fromUpstream || status >= 400) {
      outcome = fromUpstream ? "upstream_error" : "gateway_error";
      credits = 0;
    } else {
      outcome = completed ? "ok" : "upstream_error";
      if (route.usage() != UsageFormat.NONE && observer != null) {
        Usage usage = observer.usage(shape.inputEstimate());
        input = usage.inputTokens();
        output = usage.outputTokens();
        estimated = usage.estimated();
        if (estimated) {
          m.metrics().estimated();
        }
      }
      credits = route.usage() == UsageFormat.NONE ? route.flatCost() : m.admission().cost(shape.model(), input, output, route.flatCost());
    }
    return m.settlements().track(settleWithRetry(event(input, output, credits, status, estimated, outcome), 0));
  }

  /**
   * Settles a request whose client hung up: recorded as {@code client_abort} with status 499,
   * never as an upstream failure, and charged as {@code charge} says.
   */
  Future<Long> settleAbort(AbortCharge charge) {
    if (!settled.compareAndSet(false, true)) {
      return Future.succeededFuture(-1L);
    }
    long input = 0;
    long output = 0;
    long credits = 0;
    boolean estimated = false;
    if (charge == AbortCharge.RESERVATION) {
      input = route.usage() == UsageFormat.NONE ? 0 : shape.inputEstimate();
      output = route.usage() == UsageFormat.NONE ? 0 : shape.maxOutput();
      credits = reservation.credits();
      estimated = route.usage() != UsageFormat.NONE;
    } else if (charge == AbortCharge.MEASURED) {
      if (route.usage() != UsageFormat.NONE && observer != null) {
        Usage usage = observer.usage(shape.inputEstimate());
        input = usage.inputTokens();
        output = usage.outputTokens();
        estimated = usage.estimated();
      }
      credits = route.usage() == UsageFormat.NONE ? route.flatCost() : m.admission().cost(shape.model(), input, output, route.flatCost());
    }
    if (estimated) {
      m.metrics().estimated();
    }
    return m.settlements().track(settleWithRetry(event(input, output, credits, CLIENT_ABORT_STATUS, estimated, "client_abort"), 0));
  }

  private UsageEvent event(long input, long output, long credits, int status, boolean estimated, String outcome) {
    return new UsageEvent(reservation.eventId(), reservation.accountId(), reservation.keyId(), route.prefix(),
        shape.model(), input, output, credits, status, upstreamLatencyMs, estimated, outcome, m.clock().millis());
  }

  private Future<Long> settleWithRetry(UsageEvent event, int attempt) {
    long started = System.nanoTime();
    return m.admission().settle(reservation, event)
        .onSuccess(balance -> m.metrics().settleNanos(System.nanoTime() - started))
        .recover(err -> {
          if (attempt >= RETRY_DELAYS_MS.length) {
            m.metrics().settleFailed();
            log.atError().addKeyValue("requestId", requestId).addKeyValue("eventId", event.eventId())
                .log("settlement failed after retries; the sweeper will refund the reservation: {}", err.toString());
            return Future.failedFuture(err);
          }
          return vertx.timer(RETRY_DELAYS_MS[attempt]).compose(v -> settleWithRetry(event, attempt + 1));
        });
  }
}
