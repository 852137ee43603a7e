package io.tollgate.metering.audit;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.util.List;

/**
 * The audit log on its own pool: entries for changes that have no transaction of their own
 * (they happened elsewhere, in Redis or Stripe), and the log's pages. Changes made in a
 * transaction record their entry in it through {@link AuditLog}.
 */
public final class AuditTrail {

  private final Pool pool;
  private final AuditLog log;

  public AuditTrail(Pool pool, AuditLog log) {
    this.pool = pool;
    this.log = log;
  }

  public Future<Void> record(Actor actor, String action, String resourceType, String resourceId, JsonObject before,
                             JsonObject after) {
    return log.record(pool, actor.name(), action, resourceType, resourceId, actor.ip(), before, after);
  }

  /** Newest first, below {@code beforeId}. */
  public Future<List<JsonObject>> list(AuditLog.Filter filter, long beforeId, int limit) {
    return log.list(pool, filter, beforeId, limit);
  }
}
