package io.tollgate.metering.audit;

import static io.tollgate.metering.store.PgTime.utc;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Who changed what, when, from where, with the state before and after. Written in the mutation's transaction. */
public final class AuditLog {

  private static final String INSERT = "INSERT INTO audit_log (actor, action, resource_type, resource_id, ip, before, after) "
      + "VALUES ($1, $2, $3, $4, $5::text::inet, $6, $7)";
  private static final String LIST = "SELECT id, actor, action, resource_type, resource_id, host(ip) AS ip, before, after, created_at "
      + "FROM audit_log WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2) "
      + "AND ($3::text IS NULL OR resource_type = $3) AND ($4::text IS NULL OR resource_id = $4) "
      + "AND ($5::timestamptz IS NULL OR created_at >= $5) AND ($6::timestamptz IS NULL OR created_at < $6) "
      + "AND id < $7 ORDER BY id DESC LIMIT $8";

  /** Filters for {@link #list}; null fields match everything. */
  public record Filter(String actor, String action, String resourceType, String resourceId, Instant from, Instant to) {
  }

  public Future<Void> record(SqlClient sql, String actor, String action, String resourceType, String resourceId, String ip,
                             JsonObject before, JsonObject after) {
    return sql.preparedQuery(INSERT).execute(Tuple.of(actor, action, resourceType, resourceId, ip, before, after)).mapEmpty();
  }

  public Future<List<JsonObject>> list(SqlClient sql, Filter f, long beforeId, int limit) {
    return sql.preparedQuery(LIST).execute(Tuple.of(f.actor(), f.action(), f.resourceType(), f.resourceId(), utc(f.from()),
        utc(f.to()), beforeId, limit)).map(rows -> {
          List<JsonObject> out = new ArrayList<>();
          for (Row r : rows) {
            out.add(new JsonObject().put("id", r.getLong("id")).put("actor", r.getString("actor"))
                .put("action", r.getString("action")).put("resourceType", r.getString("resource_type"))
                .put("resourceId", r.getString("resource_id")).put("ip", r.getString("ip"))
                .put("before", r.getValue("before")).put("after", r.getValue("after"))
                .put("createdAt", r.getOffsetDateTime("created_at").toInstant().toString()));
          }
          return out;
        });
  }

}
