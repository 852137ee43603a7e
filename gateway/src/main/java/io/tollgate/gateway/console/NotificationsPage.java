package io.tollgate.gateway.console;

import io.tollgate.metering.Refusal;
import io.tollgate.metering.alerts.NotificationStore;
import io.tollgate.metering.audit.AuditTrail;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Usage alerts of every account, newest first, unread only when asked; marking one read is audited. */
final class NotificationsPage {

  static final int PAGE = 50;

  private final Console console;
  private final NotificationStore notifications;
  private final AuditTrail audit;

  NotificationsPage(Console console, NotificationStore notifications, AuditTrail audit) {
    this.console = console;
    this.notifications = notifications;
    this.audit = audit;
  }

  void mount(Router router) {
    router.get("/console/notifications").handler(this::page);
    router.post("/console/notifications/:id/read").handler(this::markRead);
  }

  private void page(RoutingContext ctx) {
    boolean unread = "true".equals(ctx.queryParams().get("unread"));
    long before;
    try {
      before = ctx.queryParams().contains("before") ? Long.parseLong(ctx.queryParams().get("before")) : Long.MAX_VALUE;
    } catch (NumberFormatException e) {
      console.fail(ctx, new FormError("'before' must be a notification id."));
      return;
    }
    Future.all(console.chrome(ctx, "Notifications", "notifications"), notifications.list(null, unread, before, PAGE)).onSuccess(all -> {
      List<JsonObject> rows = all.resultAt(1);
      List<View.NotificationRow> out = new ArrayList<>();
      for (JsonObject n : rows) {
        Integer threshold = n.getInteger("threshold");
        String kind = n.getString("kind") == null ? "" : n.getString("kind").replace('_', ' ');
        JsonObject delivery = n.getJsonObject("delivery", new JsonObject());
        out.add(new View.NotificationRow(n.getLong("id"), n.getLong("accountId"),
            n.getString("createdAt") == null ? "—" : View.time(Instant.parse(n.getString("createdAt"))),
            threshold == null || threshold == 0 ? kind : kind + " at " + threshold + " %", delivery.getString("status"), n.getString("readAt") == null));
      }
      Long next = rows.size() == PAGE ? rows.get(rows.size() - 1).getLong("id") : null;
      console.render(ctx, 200, "notifications.jte", new View.Notifications(all.resultAt(0), unread, out, next));
    }).onFailure(err -> console.fail(ctx, err));
  }

  private void markRead(RoutingContext ctx) {
    Future.<Void>future(p -> {
      long id = FormError.pathId(ctx, "id", "notification");
      notifications.markRead(id).compose(found -> found.isEmpty()
              ? Future.failedFuture(Refusal.notFound("notification " + id))
              : audit.record(Console.actor(ctx), "notification.read", "notification", Long.toString(id), null, found.get()))
          .onComplete(p);
    }).onSuccess(v -> Console.redirect(ctx, "/console/notifications?done=Marked+read"))
        .onFailure(err -> console.fail(ctx, err));
  }
}
