package io.tollgate.gateway;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.RedisMode;
import io.tollgate.config.TollgateConfig;
import io.tollgate.gateway.admin.AdminApi;
import io.tollgate.gateway.admin.BillingApi;
import io.tollgate.gateway.admin.NotificationsApi;
import io.tollgate.gateway.admin.PlansApi;
import io.tollgate.gateway.admin.StripeApi;
import io.tollgate.gateway.admin.UsageApi;
import io.tollgate.gateway.charging.AbortPolicy;
import io.tollgate.gateway.charging.FailedAuthLimiter;
import io.tollgate.gateway.charging.HotPath;
import io.tollgate.gateway.charging.MeteringMetrics;
import io.tollgate.gateway.charging.Settlements;
import io.tollgate.gateway.console.Console;
import io.tollgate.gateway.mail.NoticeMailer;
import io.tollgate.gateway.ops.RedisClients;
import io.tollgate.gateway.webhooks.AlertWebhooks;
import io.tollgate.gateway.webhooks.WebhookIntake;
import io.tollgate.metering.access.Revocations;
import io.tollgate.metering.accounts.AccountService;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.actions.ActionIngest;
import io.tollgate.metering.admission.AdmissionService;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.alerts.NoticeEmails;
import io.tollgate.metering.alerts.Notices;
import io.tollgate.metering.alerts.NotificationStore;
import io.tollgate.metering.alerts.UsageAlerts;
import io.tollgate.metering.audit.AuditLog;
import io.tollgate.metering.audit.AuditTrail;
import io.tollgate.metering.jobs.UsageJobs;
import io.tollgate.metering.keys.ApiKeyStore;
import io.tollgate.metering.keys.KeyEvents;
import io.tollgate.metering.keys.KeyVerifier;
import io.tollgate.metering.ledger.Balances;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.metering.periods.PeriodRollover;
import io.tollgate.metering.redis.BatchedScript;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.usage.UsageQueries;
import io.tollgate.metering.usage.UsageStreamConsumer;
import io.tollgate.stripesync.MeterSyncJobs;
import io.tollgate.stripesync.billing.BillingAdmin;
import io.tollgate.stripesync.billing.BillingSync;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Redis;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.time.Clock;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The wiring of one gateway instance: the Redis and Postgres clients, and the domain services
 * built once on them and shared by the proxy's event loops and the admin API (one key cache and
 * one revocation subscription per instance), and the admin API on them, each handler given only
 * the services it uses. Built in {@link Tollgate}; nothing here decides anything, it only
 * connects the modules.
 */
public final class Services {

  private static final Logger log = LoggerFactory.getLogger(Services.class);
  static final long DELIVERY_CHECK_MILLIS = 1_000;

  private final Vertx vertx;
  private final Redis redis;
  private final List<Redis> subscribers;
  private final Pool pool;
  private final Admissions admissions;
  private final KeyEvents keyEvents;
  private final HotPath hotPath;
  private final ActionIngest actionIngest;
  private final UsageJobs jobs;
  private final AlertWebhooks alertWebhooks;
  private final NoticeMailer noticeMailer;
  private final MeterSyncJobs meterSync;
  private final BillingSync billing;
  private final WebhookIntake webhookIntake;
  private final AdminApi adminApi;
  private final Console console;
  private final AtomicBoolean delivering = new AtomicBoolean();
  private long deliveryTimer = -1;

  Services(Vertx vertx, TollgateConfig config, String redisUrl, String postgresUrl, MeterRegistry registry, Clock clock) {
    this.vertx = vertx;
    RedisClients clients = new RedisClients(config.redis().mode(), redisUrl);
    this.redis = clients.commands(vertx, config.redis().poolSize(), 100_000);
    this.subscribers = clients.subscribers(vertx);
    this.pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(config.postgres().poolSize()))
        .connectingTo(PostgresUrls.toConnectOptions(postgresUrl)).using(vertx).build();
    RedisKeys redisKeys = new RedisKeys(config.metering().shards());
    AccountStore accounts = new AccountStore(config.metering().shards());
    ApiKeyStore keys = new ApiKeyStore();
    CreditLedger ledger = new CreditLedger();
    AuditLog audit = new AuditLog();
    this.admissions = new Admissions(redis, redisKeys, clock, config.metering().reservationTtl(),
        config.redis().batchSize(), config.redis().mode() == RedisMode.CLUSTER,
        new BatchedScript.ReplicaWait(config.redis().settleWaitReplicas(), config.redis().settleWaitMs()));
    Admissions waited = admissions;
    FunctionCounter.builder("tollgate_settle_replica_waits", waited, Admissions::settleWaits)
        .description("Settle script calls followed by WAIT for replicas (redis.settleWaitReplicas > 0); one per batch")
        .register(registry);
    FunctionCounter.builder("tollgate_settle_replica_shortfalls", waited, Admissions::settleWaitShortfalls)
        .description("Settle WAITs that timed out with fewer replicas than redis.settleWaitReplicas: those writes could be lost by a failover")
        .register(registry);
    Balances balances = new Balances(pool, accounts, ledger, admissions);
    KeyVerifier keyVerifier = new KeyVerifier(keys, pool, config.metering().keyCacheTtl(), config.metering().negativeCacheTtl(),
        config::plan, clock);
    this.keyEvents = new KeyEvents(vertx, redis, subscribers, keyVerifier);
    UsageQueries usage = new UsageQueries(pool);
    this.hotPath = new HotPath(keyVerifier, new AdmissionService(admissions, config.pricing(), balances::seed,
            (account, spendKey, since) -> usage.keySpend(spendKey, since), clock),
        new FailedAuthLimiter(config.metering().failedAuthPerMinute()), new MeteringMetrics(registry), new Settlements(), clock,
        config.metering().defaultMaxTokens(), AbortPolicy.of(config.metering()));

    this.actionIngest = new ActionIngest(config.actions(), hotPath.admission(), balances, accounts, pool, clock);

    PeriodRollover rollover = new PeriodRollover(pool, config, accounts, ledger, admissions, clock);
    Notices notices = new Notices(config.secrets().alertWebhookSecret().isPresent(), config.alerts().email().enabled(), registry);
    NotificationStore notifications = new NotificationStore(pool);
    NoticeEmails noticeEmails = new NoticeEmails(pool);
    this.noticeMailer = new NoticeMailer(vertx, noticeEmails, config.alerts(), registry);
    this.alertWebhooks = new AlertWebhooks(vertx, notifications, config.alerts(), config.secrets().alertWebhookSecret(), clock, registry);
    this.meterSync = new MeterSyncJobs(vertx, pool, config.stripe(), config.secrets().stripeApiKey(), clock, registry);
    this.billing = new BillingSync(vertx, pool, config, accounts, ledger, audit, rollover, admissions, notices,
        keyEvents::announceAccountChange, clock, registry);
    this.webhookIntake = new WebhookIntake(billing.verifier(), pool, billing.events(), billing.worker()::wake, registry);
    UsageStreamConsumer consumer = new UsageStreamConsumer(redis, pool, redisKeys, "tollgate-" + UUID.randomUUID(),
        config.metering().flushBatchSize(), config.metering().claimIdle());
    this.jobs = new UsageJobs(vertx, config.metering(), pool, redisKeys, admissions, consumer, rollover,
        new UsageAlerts(pool, config, admissions, notices), keyVerifier,
        // Auto top-up looks at the accounts whose usage was just stored: their balance moved.
        accountIds -> billing.checkTopUps(accountIds).onFailure(err -> log.warn("auto top-up check failed: {}", err.toString())),
        clock, registry);
    AccountService accountService = new AccountService(pool, config, accounts, keys, ledger, audit, admissions, balances,
        keyEvents, clock);
    AuditTrail auditTrail = new AuditTrail(pool, audit);
    BillingAdmin billingAdmin = new BillingAdmin(pool, billing, accounts, audit, clock);
    this.adminApi = new AdminApi(accountService, auditTrail, config, clock,
        new UsageApi(accountService, usage, config, clock), new NotificationsApi(notifications, noticeEmails, accountService),
        new StripeApi(meterSync, auditTrail, clock),
        new BillingApi(accountService, billingAdmin, usage, auditTrail, config, vertx, clock),
        new PlansApi(config, billing.stripe(), clock, vertx));
    this.console = new Console(accountService, usage, notifications, billingAdmin, meterSync, auditTrail,
        new Revocations(pool, audit, clock), config, registry, clock);
    if (config.secrets().alertWebhookSecret().isEmpty()) {
      log.info("TOLLGATE_ALERT_WEBHOOK_SECRET is not set: usage alerts are recorded and listed by the admin API, "
          + "but not posted to accounts' webhooks");
    }
  }

  /** Loads the scripts, subscribes to key events and starts the background jobs. */
  Future<Void> start() {
    // Redis may be down at startup: the instance then starts unready and catches up (scripts load
    // on first use, the subscription retries), rather than refusing to start.
    Future<Void> scripts = admissions.load().recover(err -> {
      log.warn("could not load the Redis scripts yet ({}); they will load on first use", err.toString());
      return Future.succeededFuture();
    });
    return scripts.compose(v -> keyEvents.start()).compose(v -> jobs.start()).onSuccess(v -> {
      deliveryTimer = vertx.setPeriodic(DELIVERY_CHECK_MILLIS, id -> deliverAlerts());
      meterSync.start();
      billing.start();
    });
  }

  /** Posts due alert webhooks; one pass at a time per instance. */
  Future<Integer> deliverAlerts() {
    if (!delivering.compareAndSet(false, true)) {
      return Future.succeededFuture(0);
    }
    return alertWebhooks.deliverDue().onFailure(err -> log.warn("alert webhook delivery pass failed: {}", err.toString()))
        .eventually(() -> noticeMailer.sendDue().onFailure(err -> log.warn("notice email pass failed: {}", err.toString())))
        .onComplete(ar -> delivering.set(false));
  }

  Future<Void> close() {
    vertx.cancelTimer(deliveryTimer);
    alertWebhooks.close();
    noticeMailer.close();
    meterSync.close();
    billing.close();
    keyEvents.close();
    // In-flight settlements first (their events join the streams), then the last flush.
    return hotPath.settlements().drained().compose(v -> jobs.close())
        .eventually(() -> pool.close())
        .eventually(() -> {
          redis.close();
          subscribers.forEach(Redis::close);
          return Future.succeededFuture();
        });
  }

  HotPath hotPath() {
    return hotPath;
  }

  ActionIngest actionIngest() {
    return actionIngest;
  }

  WebhookIntake webhookIntake() {
    return webhookIntake;
  }

  AdminApi adminApi() {
    return adminApi;
  }

  Console console() {
    return console;
  }

  // Read by tests, which drive the background jobs by hand.

  public UsageJobs jobs() {
    return jobs;
  }

  public BillingSync billing() {
    return billing;
  }
}
