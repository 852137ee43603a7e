package io.tollgate.stripesync.billing;

import io.tollgate.metering.periods.PeriodRollover;
import io.tollgate.metering.alerts.Notices;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.AccountBillingStore;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.audit.AuditLog;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.stripesync.billing.StripeBilling;
import io.tollgate.stripesync.billing.StripeJavaBilling;
import io.tollgate.stripesync.webhooks.StripeEventStore;
import io.tollgate.stripesync.webhooks.WebhookVerifier;
import io.tollgate.stripesync.webhooks.WebhookWorker;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Subscriptions and credits from Stripe, wired together: the webhook worker and signature verifier, the
 * event handlers, dunning, auto top-up and the Stripe client for customer actions. Intake needs
 * {@code STRIPE_WEBHOOK_SECRET}; Checkout, the portal and auto top-up need {@code STRIPE_API_KEY}.
 */
public final class BillingSync {

  private static final Logger log = LoggerFactory.getLogger(BillingSync.class);
  static final Duration WORKER_POLL = Duration.ofSeconds(1);
  static final long DUNNING_CHECK_MILLIS = 60_000;
  /** A Stripe call for a customer action that takes longer than this has failed. */
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(20);

  private final Vertx vertx;
  private final TollgateConfig config;
  private final AccountBillingStore accountBilling = new AccountBillingStore();
  private final StripeEventStore events = new StripeEventStore();
  private final Optional<StripeBilling> stripe;
  private final AutoTopUp topUps;
  private final BillingEvents handlers;
  private final WebhookWorker worker;
  private final Dunning dunning;
  private final LocalTrials trials;
  private final Optional<WebhookVerifier> verifier;
  private long dunningTimer = -1;

  public BillingSync(Vertx vertx, Pool pool, TollgateConfig config, AccountStore accounts, CreditLedger ledger, AuditLog audit,
                 PeriodRollover periods, Admissions admissions, Notices notices, Supplier<Future<Void>> announceAccountChange,
                 Clock clock, MeterRegistry registry) {
    this.vertx = vertx;
    this.config = config;
    this.stripe = config.secrets().stripeApiKey().map(key -> new StripeJavaBilling(key, config.stripe().apiBase(), CALL_TIMEOUT));
    this.topUps = new AutoTopUp(vertx, pool, config, accounts, accountBilling, ledger, admissions, notices, stripe, clock, registry);
    this.handlers = new BillingEvents(vertx, config, accounts, accountBilling, ledger, audit, periods, admissions, notices, topUps,
        stripe, announceAccountChange, registry);
    this.worker = new WebhookWorker(vertx, pool, events, handlers, clock, config.billing().webhookMaxAttempts(),
        config.billing().webhookRetryBase(), registry);
    this.dunning = new Dunning(pool, accounts, accountBilling, handlers, notices, clock, announceAccountChange);
    this.trials = new LocalTrials(pool, accounts, accountBilling, handlers, clock, announceAccountChange);
    List<io.tollgate.config.Secret> secrets = config.secrets().stripeWebhookSecrets();
    this.verifier = secrets.isEmpty() ? Optional.empty()
        : Optional.of(new WebhookVerifier(secrets, config.billing().webhookTolerance(), clock));
  }

  public void start() {
    if (config.secrets().stripeWebhookSecrets().isEmpty()) {
      log.info("STRIPE_WEBHOOK_SECRET is not set: POST /webhooks/stripe answers 503 and subscriptions are not synced from Stripe");
    }
    // Stored events are processed even without the secret: events stored before it was removed still apply.
    worker.start(WORKER_POLL);
    dunningTimer = vertx.setPeriodic(DUNNING_CHECK_MILLIS, id -> runDunning());
  }

  public void close() {
    worker.close();
    vertx.cancelTimer(dunningTimer);
  }

  /**
   * Grace periods ended, and top-ups left processing: one pass. Local trials that ended are closed in the same
   * pass; their ids are in {@link #endLocalTrials()}'s answer, not this one.
   */
  public Future<List<Long>> runDunning() {
    return dunning.runOnce().onFailure(err -> log.warn("dunning pass failed (retrying in 1 min): {}", err.toString()))
        .compose(done -> dunning.remindGraceEnding(config.billing().gracePeriod()).recover(err -> Future.succeededFuture(List.of()))
            .map(done))
        .compose(done -> endLocalTrials().recover(err -> Future.succeededFuture(List.of())).map(done))
        .compose(done -> topUps.resume().recover(err -> Future.succeededFuture(0)).map(done));
  }

  /** Local trials that are over return to the free plan (or keep a Stripe subscription's plan); the ids downgraded. */
  public Future<List<Long>> endLocalTrials() {
    return trials.runOnce().onFailure(err -> log.warn("local trial pass failed (retrying in 1 min): {}", err.toString()));
  }

  /** Starts automatic top-ups for these accounts where their balance calls for it. */
  public Future<List<Long>> checkTopUps(Collection<Long> accountIds) {
    return topUps.check(accountIds);
  }

  /** Verifies deliveries' signatures; empty when no webhook secret is configured (intake then answers 503). */
  public Optional<WebhookVerifier> verifier() {
    return verifier;
  }

  public WebhookWorker worker() {
    return worker;
  }

  public StripeEventStore events() {
    return events;
  }

  public AccountBillingStore accountBilling() {
    return accountBilling;
  }

  public AutoTopUp topUps() {
    return topUps;
  }

  public Optional<StripeBilling> stripe() {
    return stripe;
  }

  public TollgateConfig config() {
    return config;
  }
}
