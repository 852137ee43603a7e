package io.tollgate.gateway.ops;

import io.tollgate.metering.store.PostgresHealth;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.CheckResult;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;

/**
 * Ready means the instance can meter: Redis answers PING and Postgres answers a query, each
 * within a short timeout. Liveness is separate and never checks dependencies, so an outage of
 * Redis makes instances unready, not restarted.
 */
public final class ReadinessChecks {

  private static final long TIMEOUT_MS = 2_000;
  private final HealthChecks checks;

  public ReadinessChecks(Vertx vertx, Redis redis, Pool postgres) {
    this.checks = HealthChecks.create(vertx)
        .register("redis", TIMEOUT_MS, promise -> redis.send(Request.cmd(io.vertx.redis.client.Command.PING))
            .onComplete(ar -> promise.complete(status(ar.succeeded(), ar.cause()))))
        .register("postgres", TIMEOUT_MS, promise -> PostgresHealth.ping(postgres)
            .onComplete(ar -> promise.complete(status(ar.succeeded(), ar.cause()))));
  }

  public Future<CheckResult> check() {
    return checks.checkStatus();
  }

  private static Status status(boolean up, Throwable cause) {
    if (up) {
      return Status.OK();
    }
    String reason = cause == null ? "unknown" : cause.getClass().getSimpleName() + ": " + cause.getMessage();
    return Status.KO(new JsonObject().put("error", reason));
  }
}
