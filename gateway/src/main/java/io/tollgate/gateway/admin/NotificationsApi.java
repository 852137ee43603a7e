package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.json;
import static io.tollgate.gateway.admin.AdminApi.queryId;
import static io.tollgate.gateway.admin.AdminApi.queryInt;

import io.tollgate.gateway.admin.AdminApi.Reply;
import io.tollgate.metering.alerts.NotificationStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.List;

/** Usage alerts as recorded: listed newest first (by account, unread only), and marked read. */
public final class NotificationsApi {

  private final NotificationStore notifications;

  public NotificationsApi(NotificationStore notifications) {
    this.notifications = notifications;
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
    return notifications.list(accountId, "true".equals(unread), before, limit).map(rows -> {
      JsonObject out = new JsonObject().put("data", new JsonArray(List.copyOf(rows)));
      if (rows.size() == limit) {
        out.put("nextBefore", rows.get(rows.size() - 1).getLong("id"));
      }
      return new Reply(200, out);
    });
  }

  private Future<Reply> markRead(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "notification");
    return notifications.markRead(id).map(found -> new Reply(200, found.orElseThrow(() -> BadInput.notFound("notification " + id))));
  }
}
