package io.tollgate.config;

/** Every default value, in one place; docs/configuration.md lists the same. */
final class Defaults {

  static final String HOST = "0.0.0.0";
  static final int PROXY_PORT = 8080;
  static final int ADMIN_PORT = 8081;
  /** One event loop measured fastest on a 2-core box shared with Redis (DESIGN.md, performance notes). */
  static final int EVENT_LOOPS = 1;
  static final long MAX_BODY_BYTES = 10L * 1024 * 1024;
  static final long SHUTDOWN_GRACE_SECONDS = 30;
  static final int POOL_SIZE = 8;
  static final String DATA_DIR = ".tollgate";
  static final long CONNECT_TIMEOUT_MS = 5_000;
  static final long IDLE_TIMEOUT_MS = 60_000;
  static final long RESPONSE_TIMEOUT_MS = 120_000;
  static final int MAX_CONNECTIONS = 256;
  static final long DEFAULT_PRICE = 1_000;
  static final PlanConfig FREE_PLAN = new PlanConfig("free", 60, 40_000, 100_000);

  private Defaults() {
  }
}
