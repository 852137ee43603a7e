package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.json;
import static io.tollgate.gateway.admin.AdminApi.queryId;
import static io.tollgate.gateway.admin.AdminApi.queryInt;

import io.tollgate.gateway.admin.AdminApi.Reply;
import io.tollgate.gateway.Services;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.OffsetDateTime;
import java.util.Arrays;

/** Usage alerts as recorded: listed newest first (by account, unread only), and marked read. */
final class NotificationsApi {

  private static final String COLUMNS = "id, account_id, kind, threshold, period_start, payload, created_at, read_at, "
      + "delivery_status, delivery_attempts, delivered_at, last_error";
  private static final String LIST = "SELECT " + COLUMNS + " FROM notifications WHERE id < $1 "
      + "AND ($2::bigint IS NULL OR account_id = $2) AND (NOT $3 OR read_at IS NULL) ORDER BY id DESC LIMIT $4";
  private static final String MARK_READ = "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 RETURNING " + COLUMNS;

  private final Services m;

  NotificationsApi(Services m) {
    this.m = m;
  }

  void mount(Router router) {
    router.get("/admin/v1/notifications").handler(json(this::list));
    router.post("/admin/v1/notifications/:id/read").handler(json(this::markRead));
  }

  private Future<Reply> list(RoutingContext ctx) {
    int limit = queryInt(ctx, "limit", 50, 1, 500);
    Long accountId = queryId(ctx, "accountId");
    Long rawBefore = queryId(ctx, "before");
    long before = rawBefore == null ? Long.MAX_VALUE : rawBefore;
    String unread = ctx.queryParams().get("unread");
    if (unread != null && !unread.equals("true") && !unread.equals("false")) {
      throw new BadInput(400, "invalid-request", "query parameter 'unread' must be true or false");
    }
    return m.pool().preparedQuery(LIST).execute(Tuple.from(Arrays.asList(before, accountId, "true".equals(unread), limit)))
        .map(rows -> {
          JsonArray data = new JsonArray();
          long last = 0;
          for (Row r : rows) {
            data.add(toJson(r));
            last = r.getLong("id");
          }
          JsonObject out = new JsonObject().put("data", data);
          if (data.size() == limit) {
            out.put("nextBefore", last);
          }
          return new Reply(200, out);
        });
  }

  private Future<Reply> markRead(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "notification");
    return m.pool().preparedQuery(MARK_READ).execute(Tuple.of(id)).map(rows -> {
      if (rows.size() == 0) {
        throw BadInput.notFound("notification " + id);
      }
      return new Reply(200, toJson(rows.iterator().next()));
    });
  }

  private static JsonObject toJson(Row r) {
    return new JsonObject().put("id", r.getLong("id")).put("accountId", r.getLong("account_id")).put("kind", r.getString("kind"))
        .put("threshold", r.getInteger("threshold")).put("periodStart", instant(r.getOffsetDateTime("period_start")))
        .put("data", r.getJsonObject("payload")).put("createdAt", instant(r.getOffsetDateTime("created_at")))
        .put("readAt", instant(r.getOffsetDateTime("read_at")))
        .put("delivery", new JsonObject().put("status", r.getString("delivery_status"))
            .put("attempts", r.getInteger("delivery_attempts")).put("deliveredAt", instant(r.getOffsetDateTime("delivered_at")))
            .put("lastError", r.getString("last_error")));
  }

  private static String instant(OffsetDateTime t) {
    return t == null ? null : t.toInstant().toString();
  }
}
