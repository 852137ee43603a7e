package io.tollgate.gateway.ops;

import io.tollgate.config.RedisMode;
import io.tollgate.metering.store.PostgresHealth;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.CheckResult;
import io.vertx.ext.healthchecks.HealthChecks;
import io.vertx.ext.healthchecks.Status;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;

/**
 * Ready means the instance can meter: Redis answers PING (a Redis Cluster: a node reports
 * {@code cluster_state:ok}, i.e. every slot has a reachable master) and Postgres answers a query,
 * each within a short timeout. Liveness is separate and never checks dependencies, so an outage of
 * Redis makes instances unready, not restarted.
 */
public final class ReadinessChecks {

  private static final long TIMEOUT_MS = 2_000;
  private final HealthChecks checks;

  public ReadinessChecks(Vertx vertx, Redis redis, RedisMode mode, Pool postgres) {
    this.checks = HealthChecks.create(vertx)
        .register("redis", TIMEOUT_MS, promise -> redisUp(redis, mode)
            .onComplete(ar -> promise.complete(status(ar.succeeded(), ar.cause()))))
        .register("postgres", TIMEOUT_MS, promise -> PostgresHealth.ping(postgres)
            .onComplete(ar -> promise.complete(status(ar.succeeded(), ar.cause()))));
  }

  private static Future<Void> redisUp(Redis redis, RedisMode mode) {
    if (mode == RedisMode.STANDALONE) {
      return redis.send(Request.cmd(Command.PING)).mapEmpty();
    }
    // A node that answers while its cluster has slots without a master would fail our commands.
    return redis.send(Request.cmd(Command.CLUSTER).arg("INFO")).compose(info -> info.toString().contains("cluster_state:ok")
        ? Future.succeededFuture()
        : Future.failedFuture(new IllegalStateException("Redis Cluster state is not ok")));
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
