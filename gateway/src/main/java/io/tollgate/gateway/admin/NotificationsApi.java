package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.json;
import static io.tollgate.gateway.admin.AdminApi.queryId;
import static io.tollgate.gateway.admin.AdminApi.queryInt;

import io.tollgate.gateway.admin.AdminApi.Reply;
import io.tollgate.metering.accounts.AccountService;
import io.tollgate.metering.alerts.NoticeEmails;
import io.tollgate.metering.alerts.NotificationStore;
import io.tollgate.metering.alerts.Notices;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.List;

/**
 * Notifications as recorded: listed newest first (by account, unread only), marked read; and each
 * account's email settings (recipients, kinds opted out of).
 */
public final class NotificationsApi {

  private static final java.util.regex.Pattern EMAIL = java.util.regex.Pattern.compile("[^@\\s<>,;\"]{1,64}@[^@\\s<>,;\"]{1,253}\\.[^@\\s<>,;\".]{1,63}");
  private static final int MAX_RECIPIENTS = 20;

  private final NotificationStore notifications;
  private final NoticeEmails emails;
  private final AccountService accounts;

  public NotificationsApi(NotificationStore notifications, NoticeEmails emails, AccountService accounts) {
    this.notifications = notifications;
    this.emails = emails;
    this.accounts = accounts;
  }

  void mount(Router router) {
    router.get("/admin/v1/notifications").handler(json(this::list));
    router.post("/admin/v1/notifications/:id/read").handler(json(this::markRead));
    router.get("/admin/v1/accounts/:id/email").handler(json(this::emailSettings));
    router.put("/admin/v1/accounts/:id/email").handler(json(this::setEmailSettings));
  }

  private Future<Reply> emailSettings(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return accounts.get(id).compose(a -> emails.settings(id)).map(s -> new Reply(200, s.toJson().put("accountId", id)));
  }

  /** {@code {recipients: [...], optOut: [kinds]}}: replaces both (an empty list of recipients falls back to the Stripe customer's email). */
  private Future<Reply> setEmailSettings(RoutingContext ctx) {
    JsonObject b = AdminApi.body(ctx);
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    List<String> recipients = strings(b, "recipients", MAX_RECIPIENTS);
    for (String r : recipients) {
      if (!EMAIL.matcher(r).matches()) {
        throw BadInput.field("recipients", "holds " + (r.length() > 80 ? r.substring(0, 80) + "…" : r) + ", not an email address");
      }
    }
    List<String> optOut = strings(b, "optOut", Notices.MAILED.size());
    return accounts.get(id).compose(a -> emails.save(id, recipients, optOut))
        .map(s -> new Reply(200, s.toJson().put("accountId", id)));
  }

  private static List<String> strings(JsonObject b, String field, int max) {
    Object v = b.getValue(field);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof JsonArray a) || a.size() > max || !a.stream().allMatch(x -> x instanceof String)) {
      throw BadInput.field(field, "must be a list of at most " + max + " strings");
    }
    for (Object x : a) {
      String problem = Fields.textProblem((String) x);
      if (problem != null) {
        throw BadInput.field(field, problem);
      }
    }
    return a.stream().map(String.class::cast).map(String::trim).distinct().toList();
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
