package io.tollgate.config;

import java.time.Duration;

/** Every default value, in one place; docs/configuration.md lists the same. */
final class Defaults {

  static final String HOST = "0.0.0.0";
  /** The admin API moves balances and keys: reachable from this machine only unless configured otherwise. */
  static final String ADMIN_HOST = "127.0.0.1";
  static final int PROXY_PORT = 8080;
  static final int ADMIN_PORT = 8081;
  /** One event loop measured fastest on a 2-core box shared with Redis (DESIGN.md, performance notes). */
  static final int EVENT_LOOPS = 1;
  static final long MAX_BODY_BYTES = 10L * 1024 * 1024;
  static final long SHUTDOWN_GRACE_SECONDS = 30;
  /** Well under a typical 65,536 file-descriptor limit, leaving room for upstream, Redis and Postgres connections. */
  static final long MAX_CLIENT_CONNECTIONS = 10_000;
  static final long ADMIN_MAX_CLIENT_CONNECTIONS = 256;
  static final long HEADER_TIMEOUT_MS = 10_000;
  static final int POOL_SIZE = 8;
  /** Admissions (or settlements) of one event-loop turn sent as one Redis script call, at most. */
  static final int REDIS_BATCH_SIZE = 64;
  /** How long a settle's WAIT for replicas lasts at most, when redis.settleWaitReplicas > 0. */
  static final long REDIS_SETTLE_WAIT_MS = 100;
  static final String DATA_DIR = ".tollgate";
  static final long CONNECT_TIMEOUT_MS = 5_000;
  static final long IDLE_TIMEOUT_MS = 60_000;
  /** Generous: a long completion sends its headers only once the model has started answering. */
  static final long RESPONSE_TIMEOUT_MS = 120_000;
  static final int MAX_CONNECTIONS = 256;
  static final boolean HTTP2 = false;
  /** In units (millicredits, {@link Credits}). */
  static final long FLAT_COST = 0;
  /** 1,000 credits per million tokens, in units. */
  static final long DEFAULT_PRICE = 1_000 * Credits.UNITS_PER_CREDIT;
  static final int SHARDS = 16;
  /** Longer than any upstream call may take (responseTimeout + a long stream), so only dead gateways' holds expire. */
  static final long RESERVATION_TTL_SECONDS = 900;
  static final long KEY_CACHE_TTL_SECONDS = 30;
  static final long NEGATIVE_CACHE_TTL_SECONDS = 5;
  static final int FAILED_AUTH_PER_MINUTE = 30;
  static final long DEFAULT_MAX_TOKENS = 4_096;
  static final long KEY_ROTATION_OVERLAP_HOURS = 24;
  static final long LAST_USED_FLUSH_SECONDS = 10;
  static final long FLUSH_INTERVAL_MS = 200;
  static final int FLUSH_BATCH_SIZE = 500;
  /** Well above one batch's insert time, so a live but slow consumer is not raced by another. */
  static final long CLAIM_IDLE_SECONDS = 60;
  static final ClientAbortPolicy CLIENT_ABORT = ClientAbortPolicy.DRAIN;
  static final long ABORT_DRAIN_TIMEOUT_SECONDS = 30;
  static final long ABORT_DRAIN_MAX_BYTES = 8L * 1024 * 1024;
  /** The plan new and downgraded accounts get; the only plan that exists when the file names none. */
  static final int ALERT_MAX_ATTEMPTS = 6;
  static final long ALERT_RETRY_BASE_MS = 5_000;
  static final long ALERT_TIMEOUT_MS = 10_000;
  static final int SMTP_PORT = 587;
  static final String STRIPE_METER_EVENT_NAME = "tollgate_credits";
  static final long STRIPE_SYNC_INTERVAL_MS = 60_000;
  static final String STRIPE_API_BASE = "https://api.stripe.com";
  static final String STRIPE_METER_EVENTS_BASE = "https://meter-events.stripe.com";
  static final long STRIPE_RECONCILE_HOURS = 24;
  static final long STRIPE_DRIFT_ALERT_PERCENT = 1;
  static final long WEBHOOK_TOLERANCE_SECONDS = 300;
  static final int WEBHOOK_MAX_ATTEMPTS = 8;
  static final long WEBHOOK_RETRY_BASE_MS = 5_000;
  static final long GRACE_PERIOD_DAYS = 7;
  static final long AUTO_TOP_UP_COOLDOWN_MINUTES = 10;
  static final long TRIAL_DAYS = 14;
  static final String FREE_PLAN_NAME = "free";
  static final PlanConfig FREE_PLAN = new PlanConfig(FREE_PLAN_NAME, 60, 40_000, Credits.ofWhole(100_000));

  private Defaults() {
  }

  static ModelPrice defaultPrice() {
    return new ModelPrice(DEFAULT_PRICE, DEFAULT_PRICE);
  }

  static MeteringConfig metering() {
    return new MeteringConfig(SHARDS, Duration.ofSeconds(RESERVATION_TTL_SECONDS), Duration.ofSeconds(KEY_CACHE_TTL_SECONDS),
        Duration.ofSeconds(NEGATIVE_CACHE_TTL_SECONDS), FAILED_AUTH_PER_MINUTE, DEFAULT_MAX_TOKENS,
        Duration.ofHours(KEY_ROTATION_OVERLAP_HOURS), Duration.ofSeconds(LAST_USED_FLUSH_SECONDS),
        Duration.ofMillis(FLUSH_INTERVAL_MS), FLUSH_BATCH_SIZE, Duration.ofSeconds(CLAIM_IDLE_SECONDS),
        CLIENT_ABORT, Duration.ofSeconds(ABORT_DRAIN_TIMEOUT_SECONDS), ABORT_DRAIN_MAX_BYTES);
  }
}
