package io.tollgate.gateway.metering;

import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.TollgateConfig;
import io.tollgate.gateway.billing.AlertWebhooks;
import io.tollgate.gateway.billing.Billing;
import io.tollgate.gateway.billing.Notices;
import io.tollgate.gateway.billing.PeriodRollover;
import io.tollgate.gateway.billing.StripeSync;
import io.tollgate.gateway.billing.UsageAlerts;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.audit.AuditLog;
import io.tollgate.metering.keys.ApiKeyStore;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.usage.UsagePartitions;
import io.tollgate.metering.usage.UsageStreamConsumer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The metering state one gateway instance shares across its event loops: Redis and Postgres
 * clients, the key cache and its revocation feed, the admission scripts, the stores, and the
 * background jobs (reservation sweeper, batched last-used writes). Shared rather than per
 * verticle so that there is one cache and one subscription per instance.
 */
public final class MeteringServices {

  private static final Logger log = LoggerFactory.getLogger(MeteringServices.class);

  final TollgateConfig config;
  final Vertx vertx;
  final Clock clock;
  final Redis redis;
  final Redis subscriber;
  final Pool pool;
  final RedisKeys redisKeys;
  final Admissions admissions;
  final AccountStore accounts;
  final ApiKeyStore keys = new ApiKeyStore();
  final CreditLedger ledger = new CreditLedger();
  final AuditLog audit = new AuditLog();
  final KeyCache keyCache;
  final FailedAuthLimiter failedAuth;
  final LastUsedRecorder lastUsed;
  final MeteringMetrics metrics;
  final Pricing pricing;
  private final RevocationListener revocations;
  private final UsageStreamConsumer usageConsumer;
  private final AtomicBoolean flushing = new AtomicBoolean();
  private long flushTimer = -1;
  private long sweepTimer = -1;
  private long touchTimer = -1;
  private long backlogTimer = -1;
  private long partitionTimer = -1;
  private long rolloverTimer = -1;
  private long deliveryTimer = -1;
  private final PeriodRollover rollover;
  private final UsageAlerts alerts;
  private final AlertWebhooks webhooks;
  private final StripeSync stripe;
  private final Billing billing;
  /** Accounts whose usage reached Postgres since the last alert check. */
  private final Set<Long> toCheck = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean delivering = new AtomicBoolean();

  public MeteringServices(Vertx vertx, TollgateConfig config, String redisUrl, String postgresUrl, MeterRegistry registry,
                          Clock clock) {
    this.config = config;
    this.vertx = vertx;
    this.clock = clock;
    this.redis = Redis.createClient(vertx, new RedisOptions().setConnectionString(redisUrl)
        .setMaxPoolSize(config.redis().poolSize()).setMaxPoolWaiting(100_000).setMaxWaitingHandlers(100_000));
    this.subscriber = Redis.createClient(vertx, new RedisOptions().setConnectionString(redisUrl));
    this.pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(config.postgres().poolSize()))
        .connectingTo(PostgresUrls.toConnectOptions(postgresUrl)).using(vertx).build();
    this.redisKeys = new RedisKeys(config.metering().shards());
    this.admissions = new Admissions(redis, redisKeys, clock, config.metering().reservationTtl());
    this.accounts = new AccountStore(config.metering().shards());
    this.keyCache = new KeyCache(keys, pool, config.metering().keyCacheTtl(), config.metering().negativeCacheTtl());
    this.failedAuth = new FailedAuthLimiter(config.metering().failedAuthPerMinute());
    this.lastUsed = new LastUsedRecorder(keys, pool, clock);
    this.metrics = new MeteringMetrics(registry);
    this.pricing = new Pricing(config.pricing());
    this.usageConsumer = new UsageStreamConsumer(redis, pool, redisKeys,
        "tollgate-" + UUID.randomUUID(), config.metering().flushBatchSize(), config.metering().claimIdle());
    this.usageConsumer.observer((entries, nanos, accountIds) -> {
      metrics.batchStored(entries, nanos, accountIds);
      toCheck.addAll(accountIds);
    });
    this.rollover = new PeriodRollover(pool, config, accounts, ledger, admissions, clock);
    Notices notices = new Notices(config.secrets().alertWebhookSecret().isPresent(), registry);
    this.alerts = new UsageAlerts(pool, config, admissions, notices);
    this.webhooks = new AlertWebhooks(vertx, pool, config.alerts(),
        config.secrets().alertWebhookSecret(), clock, registry);
    this.stripe = new StripeSync(vertx, pool, config.stripe(), config.secrets().stripeApiKey(), clock,
        registry);
    this.billing = new Billing(vertx, pool, config, accounts, ledger, audit, rollover, admissions, notices, this::announceAccountChange,
        clock, registry);
    if (config.secrets().alertWebhookSecret().isEmpty()) {
      log.info("TOLLGATE_ALERT_WEBHOOK_SECRET is not set: usage alerts are recorded and listed by the admin API, "
          + "but not posted to accounts' webhooks");
    }
    this.revocations = new RevocationListener(vertx, subscriber,
        hash -> {
          if (ALL_KEYS.equals(hash)) {
            keyCache.invalidateAll();
          } else {
            keyCache.invalidate(hash);
          }
        },
        keyCache::invalidateAll);
  }

  /** Loads the scripts, subscribes to revocations and starts the background jobs. */
  public Future<Void> start() {
    // Redis may be down at startup: the instance then starts unready and catches up (scripts load
    // on first use, the subscription retries), rather than refusing to start.
    Future<Void> scripts = admissions.load().recover(err -> {
      log.warn("could not load the Redis scripts yet ({}); they will load on first use", err.toString());
      return Future.succeededFuture();
    });
    return scripts.compose(v -> revocations.start().recover(err -> {
      log.warn("could not subscribe to key revocations yet ({}); retrying", err.toString());
      revocations.retryLater();
      return Future.succeededFuture();
    })).compose(v -> usageConsumer.ensureGroups().recover(err -> {
      log.warn("could not create the usage consumer group yet ({}); retrying with each flush", err.toString());
      return Future.succeededFuture();
    })).onSuccess(v -> {
      flushTimer = vertx.setPeriodic(config.metering().flushInterval().toMillis(), id -> flushUsage());
      sweepTimer = vertx.setPeriodic(10_000, id -> sweepAll());
      backlogTimer = vertx.setPeriodic(BACKLOG_POLL_MILLIS, id -> measureBacklog());
      ensurePartitions();
      partitionTimer = vertx.setPeriodic(PARTITION_CHECK_MILLIS, id -> ensurePartitions());
      rollOverPeriods();
      rolloverTimer = vertx.setPeriodic(ROLLOVER_CHECK_MILLIS, id -> rollOverPeriods());
      deliveryTimer = vertx.setPeriodic(DELIVERY_CHECK_MILLIS, id -> deliverAlerts());
      stripe.start();
      billing.start();
      touchTimer = vertx.setPeriodic(config.metering().lastUsedFlush().toMillis(), id -> lastUsed.flush()
          .onFailure(err -> log.warn("could not record keys' last use: {}", err.toString())));
    });
  }

  /** Drains the usage streams into Postgres; one pass at a time per instance. */
  public Future<Void> flushUsage() {
    if (!flushing.compareAndSet(false, true)) {
      return Future.succeededFuture();
    }
    return usageConsumer.flushAll()
        .onSuccess(metrics::flushed)
        .compose(flushed -> flushed.failedShards() == 0 ? Future.succeededFuture(flushed)
            // Some shards failed, the others were stored: count the pass as failed and recreate the groups.
            : Future.failedFuture("usage shards not flushed: " + flushed.failedShards()))
        .compose(flushed -> checkAlerts().transform(ar -> Future.succeededFuture(flushed)))
        .recover(err -> {
          metrics.flushFailed();
          // NOGROUP after a Redis restart or flush: create the groups again; entries wait meanwhile.
          return usageConsumer.ensureGroups().transform(ar -> Future.succeededFuture(null));
        })
        .<Void>mapEmpty()
        .onComplete(ar -> flushing.set(false));
  }

  static final long PARTITION_CHECK_MILLIS = 6 * 3_600_000L;
  static final long ROLLOVER_CHECK_MILLIS = 60_000;
  static final long DELIVERY_CHECK_MILLIS = 1_000;

  /** Closes ended billing periods (whichever instance comes first does each account, once). */
  public Future<List<PeriodRollover.Rolled>> rollOverPeriods() {
    return rollover.runOnce().onFailure(err -> log.warn("billing period rollover failed (retrying in 1 min): {}", err.toString()));
  }

  /** Raises the usage alerts due for the accounts whose usage was just stored. */
  public Future<List<UsageAlerts.Fired>> checkAlerts() {
    List<Long> accountIds = new ArrayList<>(toCheck);
    toCheck.removeAll(accountIds);
    // Auto top-up looks at the same accounts: their balance just moved.
    billing.checkTopUps(accountIds).onFailure(err -> log.warn("auto top-up check failed: {}", err.toString()));
    return alerts.check(accountIds).onFailure(err -> {
      // Checked again with the account's next stored usage; a threshold crossed stays crossed.
      toCheck.addAll(accountIds);
      log.warn("usage alert check failed: {}", err.toString());
    });
  }

  /** Posts due alert webhooks; one pass at a time per instance. */
  public Future<Integer> deliverAlerts() {
    if (!delivering.compareAndSet(false, true)) {
      return Future.succeededFuture(0);
    }
    return webhooks.deliverDue().onFailure(err -> log.warn("alert webhook delivery pass failed: {}", err.toString()))
        .onComplete(ar -> delivering.set(false));
  }

  /** Creates next months' usage partitions if missing (all instances do; it is idempotent). */
  public Future<Integer> ensurePartitions() {
    return UsagePartitions.ensure(pool)
        .onSuccess(n -> {
          if (n > 0) {
            log.info("created {} usage_events partition(s) ahead of time", n);
          }
        })
        .onFailure(err -> log.warn("could not check usage_events partitions (retrying in 6 h or at restart): {}", err.toString()));
  }

  /** Measured on a timer, not on scrape, so /metrics never waits for Redis. */
  static final long BACKLOG_POLL_MILLIS = 5_000;

  /** Updates the backlog gauges from the streams. */
  public Future<UsageStreamConsumer.Backlog> measureBacklog() {
    return usageConsumer.backlog(clock.millis()).onSuccess(metrics::backlog)
        .onFailure(err -> log.debug("could not measure the usage backlog: {}", err.toString()));
  }

  /** Refunds abandoned reservations on every shard. */
  public Future<Integer> sweepAll() {
    Future<Integer> total = Future.succeededFuture(0);
    for (int shard = 0; shard < redisKeys.shards(); shard++) {
      int s = shard;
      total = total.compose(n -> admissions.sweep(s).map(m -> n + m));
    }
    return total.onSuccess(n -> {
      if (n > 0) {
        metrics.swept(n);
        log.info("refunded {} abandoned reservation(s)", n);
      }
    }).onFailure(err -> log.warn("reservation sweep failed: {}", err.toString()));
  }

  public StripeSync stripe() {
    return stripe;
  }

  public Billing billing() {
    return billing;
  }

  public Vertx vertx() {
    return vertx;
  }

  public Pool pool() {
    return pool;
  }

  public AccountStore accounts() {
    return accounts;
  }

  public ApiKeyStore keys() {
    return keys;
  }

  public CreditLedger ledger() {
    return ledger;
  }

  public AuditLog audit() {
    return audit;
  }

  public Admissions admissions() {
    return admissions;
  }

  public TollgateConfig config() {
    return config;
  }

  public Clock clock() {
    return clock;
  }

  /** Tells every instance (this one included) to forget a key now. */
  public Future<Void> announceRevocation(byte[] hash) {
    keyCache.invalidate(KeyCache.hex(hash));
    return redis.send(Request.cmd(Command.PUBLISH).arg(RedisKeys.KEY_EVENTS_CHANNEL).arg(KeyCache.hex(hash))).mapEmpty();
  }

  /** Loads an account's Redis balance from the Postgres ledger if Redis has none. */
  Future<Void> seedFromLedger(long accountId) {
    return accounts.get(pool, accountId).compose(account -> {
      if (account.isEmpty()) {
        return Future.failedFuture(new IllegalStateException("account " + accountId + " not found"));
      }
      return seed(account.get());
    });
  }

  /** Every instance drops its cached keys: an account's plan, limits or status changed. */
  public Future<Void> announceAccountChange() {
    keyCache.invalidateAll();
    return redis.send(Request.cmd(Command.PUBLISH).arg(RedisKeys.KEY_EVENTS_CHANNEL).arg(ALL_KEYS)).mapEmpty();
  }

  static final String ALL_KEYS = "*";

  /** An account's spendable credits: the hot balance if Redis holds it, else the ledger's (without loading it). */
  public Future<Long> spendable(Account account) {
    return admissions.balance(account.id())
        .compose(hot -> hot.isPresent() ? Future.succeededFuture(hot.get()) : ledger.spendable(pool, account));
  }

  public Future<Void> seed(Account account) {
    return ledger.spendable(pool, account).compose(balance -> admissions.seedBalance(account.id(), balance)).mapEmpty();
  }

  public Future<Void> close() {
    vertx.cancelTimer(flushTimer);
    vertx.cancelTimer(sweepTimer);
    vertx.cancelTimer(touchTimer);
    vertx.cancelTimer(backlogTimer);
    vertx.cancelTimer(partitionTimer);
    vertx.cancelTimer(rolloverTimer);
    vertx.cancelTimer(deliveryTimer);
    webhooks.close();
    stripe.close();
    billing.close();
    revocations.close();
    return flushUsage().recover(err -> Future.succeededFuture())
        .compose(v -> lastUsed.flush()).recover(err -> Future.succeededFuture())
        .eventually(() -> pool.close())
        .eventually(() -> {
          redis.close();
          subscriber.close();
          return Future.succeededFuture();
        });
  }
}
