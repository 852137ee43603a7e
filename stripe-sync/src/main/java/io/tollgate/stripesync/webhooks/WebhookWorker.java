package io.tollgate.stripesync.webhooks;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Processes stored Stripe events. Each event is claimed with {@code FOR UPDATE SKIP LOCKED} in
 * its own transaction, so several instances share the queue without taking an event twice; the
 * handler's writes and the "processed" mark commit together. A failure rolls that back and
 * schedules a retry with exponential backoff; after {@code maxAttempts} the event is parked with
 * its error, to be replayed from the admin API once the cause is fixed.
 */
public final class WebhookWorker {

  private static final Logger log = LoggerFactory.getLogger(WebhookWorker.class);
  private static final Duration MAX_BACKOFF = Duration.ofHours(1);
  /** A pass stops after this many events so a long queue does not hold the event loop's turn forever. */
  private static final int MAX_PER_PASS = 500;

  private final Vertx vertx;
  private final Pool pool;
  private final StripeEventStore store;
  private final EventHandler handler;
  private final Clock clock;
  private final int maxAttempts;
  private final Duration retryBase;
  private final MeterRegistry registry;
  private final AtomicBoolean running = new AtomicBoolean();
  private final AtomicBoolean again = new AtomicBoolean();
  private final AtomicReference<StripeEventStore.Stats> stats = new AtomicReference<>(new StripeEventStore.Stats(0, 0, 0));
  private long timer = -1;
  private long statsTimer = -1;

  public WebhookWorker(Vertx vertx, Pool pool, StripeEventStore store, EventHandler handler, Clock clock, int maxAttempts,
                       Duration retryBase, MeterRegistry registry) {
    this.vertx = vertx;
    this.pool = pool;
    this.store = store;
    this.handler = handler;
    this.clock = clock;
    this.maxAttempts = maxAttempts;
    this.retryBase = retryBase;
    this.registry = registry;
    Gauge.builder("tollgate_stripe_webhook_events", stats, s -> s.get().pending()).tag("status", "pending")
        .description("Stored Stripe events waiting to be processed").register(registry);
    Gauge.builder("tollgate_stripe_webhook_events", stats, s -> s.get().parked()).tag("status", "parked")
        .description("Stored Stripe events waiting to be processed").register(registry);
    Gauge.builder("tollgate_stripe_webhook_oldest_pending_seconds", stats, s -> s.get().oldestPendingSeconds())
        .description("Age of the oldest Stripe event not yet processed").register(registry);
  }

  /** Polls every {@code interval}; {@link #wake()} starts a pass at once. */
  public void start(Duration interval) {
    timer = vertx.setPeriodic(interval.toMillis(), id -> drain());
    statsTimer = vertx.setPeriodic(5_000, id -> refreshStats());
    refreshStats();
  }

  public void close() {
    vertx.cancelTimer(timer);
    vertx.cancelTimer(statsTimer);
  }

  /** A new event was stored: process it now rather than at the next poll. */
  public void wake() {
    drain();
  }

  public Future<StripeEventStore.Stats> refreshStats() {
    return store.stats(pool, clock.instant()).onSuccess(stats::set)
        .onFailure(err -> log.debug("could not count Stripe events: {}", err.toString()));
  }

  /**
   * Processes due events until none is left; returns how many it took. One pass at a time per
   * instance: a call during a pass makes that pass go round once more.
   */
  public Future<Integer> drain() {
    if (!running.compareAndSet(false, true)) {
      again.set(true);
      return Future.succeededFuture(0);
    }
    again.set(false);
    return loop(0).onComplete(ar -> {
      running.set(false);
      if (again.getAndSet(false)) {
        drain();
      }
    }).onFailure(err -> log.warn("Stripe event pass failed (retrying at the next poll): {}", err.toString()));
  }

  private Future<Integer> loop(int done) {
    if (done >= MAX_PER_PASS) {
      again.set(true);
      return Future.succeededFuture(done);
    }
    return processOne().compose(took -> took ? loop(done + 1) : Future.succeededFuture(done));
  }

  /** Claims and processes one due event; false when none is due. */
  Future<Boolean> processOne() {
    AtomicReference<StripeEvent> claimed = new AtomicReference<>();
    AtomicReference<Integer> attempts = new AtomicReference<>(0);
    Future<Optional<EventHandler.Handled>> tx = pool.withTransaction(conn -> store.claim(conn, clock.instant()).compose(found -> {
      if (found.isEmpty()) {
        return Future.succeededFuture(Optional.<EventHandler.Handled>empty());
      }
      StripeEvent event = found.get().event();
      claimed.set(event);
      attempts.set(found.get().attempts());
      Future<EventHandler.Handled> handled;
      try {
        handled = handler.handle(conn, event);
      } catch (RuntimeException e) {
        handled = Future.failedFuture(e);
      }
      return handled.compose(h -> store.processed(conn, event.id(), clock.instant(), h.outcome(), h.accountId()).map(Optional.of(h)));
    }));
    return tx.compose(result -> {
      if (result.isEmpty()) {
        return Future.succeededFuture(false);
      }
      StripeEvent event = claimed.get();
      EventHandler.Handled h = result.get();
      count(event.type(), "processed");
      log.info("Stripe event {} {} processed: {}", event.id(), event.type(), h.outcome());
      return h.runAfterCommit(err -> log.warn("Stripe event {} applied, but an effect outside Postgres failed: {}", event.id(),
          err.toString())).map(true);
    }, err -> {
      StripeEvent event = claimed.get();
      if (event == null) {
        // The claim itself failed (Postgres unreachable): nothing was taken.
        return Future.failedFuture(err);
      }
      return recordFailure(event, attempts.get(), err).map(true);
    });
  }

  private Future<Void> recordFailure(StripeEvent event, int attemptsBefore, Throwable err) {
    Instant now = clock.instant();
    long factor = 1L << Math.min(20, attemptsBefore);
    Duration backoff = retryBase.multipliedBy(factor);
    if (backoff.compareTo(MAX_BACKOFF) > 0) {
      backoff = MAX_BACKOFF;
    }
    String error = err.getMessage() == null ? err.getClass().getSimpleName() : err.getMessage();
    Instant next = now.plus(backoff);
    int max = err instanceof EventHandler.Unprocessable ? attemptsBefore + 1 : maxAttempts;
    return store.failed(pool, event.id(), now, error, next, max).map(status -> {
      if (status.isEmpty()) {
        return null;
      }
      if ("parked".equals(status.get())) {
        count(event.type(), "parked");
        log.error("Stripe event {} {} parked after {} attempts: {} (replay it with POST /admin/v1/webhooks/stripe/events/{}/replay)",
            event.id(), event.type(), attemptsBefore + 1, error, event.id());
      } else {
        count(event.type(), "retried");
        log.warn("Stripe event {} {} failed (attempt {}, retrying at {}): {}", event.id(), event.type(), attemptsBefore + 1, next, error);
      }
      return null;
    }).<Void>mapEmpty().recover(e -> {
      log.warn("could not record the failure of Stripe event {} ({}); it will be retried", event.id(), e.toString());
      return Future.succeededFuture();
    }).onComplete(ar -> refreshStats());
  }

  private void count(String type, String result) {
    Counter.builder("tollgate_stripe_webhook_processed").description("Stripe events processed, retried or parked, by type")
        .tag("type", type).tag("result", result).register(registry).increment();
  }
}
