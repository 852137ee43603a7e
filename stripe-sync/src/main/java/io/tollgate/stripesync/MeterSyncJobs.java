package io.tollgate.stripesync;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.Secret;
import io.tollgate.config.StripeConfig;
import io.tollgate.stripesync.MeterOutbox;
import io.tollgate.stripesync.MeterSync;
import io.tollgate.stripesync.Reconciler;
import io.tollgate.stripesync.StripeMeterTransport;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's side of Stripe meter sync: with {@code STRIPE_API_KEY} set, every instance cuts
 * and sends on {@code stripe.syncIntervalMs} (the outbox makes concurrent instances safe) and, when
 * {@code stripe.meterId} is set, reconciles the last two days every {@code reconcileIntervalHours}.
 */
public final class MeterSyncJobs {

  private static final Logger log = LoggerFactory.getLogger(MeterSyncJobs.class);
  /** A Stripe call (connect plus read) that takes longer than this is a failure to retry. */
  private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

  private final Vertx vertx;
  private final StripeConfig config;
  private final Clock clock;
  private final MeterOutbox outbox;
  private final Optional<MeterSync> sync;
  private final Optional<Reconciler> reconciler;
  private long syncTimer = -1;
  private long reconcileTimer = -1;

  public MeterSyncJobs(Vertx vertx, Pool pool, StripeConfig config, Optional<Secret> apiKey, Clock clock, MeterRegistry registry) {
    this.vertx = vertx;
    this.config = config;
    this.clock = clock;
    this.outbox = new MeterOutbox(pool);
    if (apiKey.isEmpty()) {
      this.sync = Optional.empty();
      this.reconciler = Optional.empty();
      return;
    }
    StripeMeterTransport transport = new StripeMeterTransport("v1".equals(config.transport())
        ? StripeMeterTransport.Mode.V1 : StripeMeterTransport.Mode.V2, apiKey.get(), config.apiBase(), config.meterEventsBase(),
        CALL_TIMEOUT, clock);
    this.sync = Optional.of(new MeterSync(vertx, outbox, transport, config.meterEventName(), clock, MeterSync.Settings.defaults(),
        registry));
    this.reconciler = config.meterId().map(meter -> new Reconciler(vertx, pool, transport, config.meterEventName(), meter,
        config.driftAlertPercent(), registry));
  }

  public boolean enabled() {
    return sync.isPresent();
  }

  public StripeConfig config() {
    return config;
  }

  public MeterOutbox outbox() {
    return outbox;
  }

  public Optional<MeterSync> sync() {
    return sync;
  }

  public Optional<Reconciler> reconciler() {
    return reconciler;
  }

  public void start() {
    if (sync.isEmpty()) {
      log.info("STRIPE_API_KEY is not set: usage is not sent to Stripe (it stays claimable in Postgres)");
      return;
    }
    log.info("Stripe meter sync on: {} transport, event {}, every {}", config.transport(), config.meterEventName(), config.syncInterval());
    syncTimer = vertx.setPeriodic(config.syncInterval().toMillis(), id -> runSync());
    reconciler.ifPresent(r -> reconcileTimer = vertx.setPeriodic(config.reconcileInterval().toMillis(),
        id -> reconcile(clock.instant().minus(Duration.ofDays(2)), clock.instant())));
  }

  public Future<MeterSync.Pass> runSync() {
    return sync.map(s -> s.runOnce().onFailure(err -> log.warn("Stripe meter sync pass failed: {}", err.toString())))
        .orElseGet(() -> Future.succeededFuture(new MeterSync.Pass(0, 0, 0, 0)));
  }

  public Future<JsonObject> reconcile(Instant from, Instant to) {
    return reconciler.map(r -> r.run(from, to).onFailure(err -> log.warn("Stripe reconciliation failed: {}", err.toString())))
        .orElseGet(() -> Future.failedFuture(new IllegalStateException("reconciliation needs STRIPE_API_KEY and stripe.meterId")));
  }

  public void close() {
    vertx.cancelTimer(syncTimer);
    vertx.cancelTimer(reconcileTimer);
  }
}
