package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.body;
import static io.tollgate.gateway.admin.AdminApi.json;
import static io.tollgate.gateway.admin.AdminApi.queryId;
import static io.tollgate.gateway.admin.AdminApi.queryInt;

import io.tollgate.gateway.admin.AdminApi.Reply;
import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditTrail;
import io.tollgate.stripesync.MeterSyncJobs;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Stripe meter sync for operators: its state, the outbox (dead letters and their retry), a pass or a reconciliation now. */
public final class StripeApi {

  private static final Set<String> STATUSES = Set.of("pending", "sent", "dead");

  private final MeterSyncJobs meterSync;
  private final AuditTrail audit;
  private final Clock clock;

  public StripeApi(MeterSyncJobs meterSync, AuditTrail audit, Clock clock) {
    this.meterSync = meterSync;
    this.audit = audit;
    this.clock = clock;
  }

  void mount(Router router) {
    router.get("/admin/v1/stripe/sync").handler(json(this::state));
    router.post("/admin/v1/stripe/sync").handler(json(this::runNow));
    router.get("/admin/v1/stripe/outbox").handler(json(this::outbox));
    router.post("/admin/v1/stripe/outbox/retry").handler(json(this::retry));
    router.post("/admin/v1/stripe/reconcile").handler(json(this::reconcile));
  }

  private MeterSyncJobs stripe() {
    return meterSync;
  }

  private Future<Reply> state(RoutingContext ctx) {
    return stripe().outbox().stats().compose(stats -> stripe().outbox().unlinked(100).map(unlinked -> {
      JsonObject out = new JsonObject().put("enabled", stripe().enabled()).put("transport", stripe().config().transport())
          .put("meterEventName", stripe().config().meterEventName()).put("meterId", stripe().config().meterId().orElse(null))
          .put("breaker", stripe().sync().map(s -> s.breakerState().name().toLowerCase(java.util.Locale.ROOT)).orElse(null))
          .put("pending", stats.pending()).put("dead", stats.dead())
          .put("oldestPendingSeconds", stats.oldestPendingSeconds())
          .put("unlinkedAccounts", new JsonArray(unlinked));
      return new Reply(200, out);
    }));
  }

  private Future<Reply> runNow(RoutingContext ctx) {
    requireEnabled();
    return stripe().runSync().map(pass -> new Reply(200, new JsonObject().put("cut", pass.cut()).put("sent", pass.sent())
        .put("deadLettered", pass.dead()).put("deferred", pass.deferred())));
  }

  private Future<Reply> outbox(RoutingContext ctx) {
    String status = ctx.queryParams().get("status") == null ? "dead" : ctx.queryParams().get("status");
    if (!STATUSES.contains(status)) {
      throw new BadInput(400, "invalid-request", "query parameter 'status' must be pending, sent or dead");
    }
    int limit = queryInt(ctx, "limit", 50, 1, 500);
    Long before = queryId(ctx, "before");
    return stripe().outbox().list(status, before == null ? Long.MAX_VALUE : before, limit).map(rows -> {
      JsonObject out = new JsonObject().put("data", new JsonArray(List.copyOf(rows)));
      if (rows.size() == limit) {
        out.put("nextBefore", rows.get(rows.size() - 1).getLong("id"));
      }
      return new Reply(200, out);
    });
  }

  private Future<Reply> retry(RoutingContext ctx) {
    JsonObject b = body(ctx);
    Object raw = b.getValue("ids");
    if (!(raw instanceof JsonArray array) || array.isEmpty() || array.size() > 1_000) {
      throw BadInput.field("ids", "must be a list of 1-1000 outbox item ids");
    }
    List<Long> ids = new ArrayList<>();
    for (Object v : array) {
      if (!(v instanceof Number n) || n.longValue() <= 0) {
        throw BadInput.field("ids", "must hold positive integers, got " + v);
      }
      ids.add(n.longValue());
    }
    Actor actor = AdminApi.actor(ctx);
    return stripe().outbox().retryDead(ids).compose(retried -> audit.record(actor, "stripe.outbox.retry", "stripe_outbox",
            null, null, new JsonObject().put("ids", new JsonArray(retried)))
        .map(v -> new Reply(200, new JsonObject().put("retried", new JsonArray(retried))
            .put("notDead", new JsonArray(ids.stream().filter(id -> !retried.contains(id)).toList())))));
  }

  private Future<Reply> reconcile(RoutingContext ctx) {
    requireEnabled();
    if (stripe().reconciler().isEmpty()) {
      throw new BadInput(409, "not-configured", "reconciliation needs stripe.meterId in the configuration");
    }
    JsonObject b = body(ctx);
    Instant to = Fields.instant(b, "to");
    Instant from = Fields.instant(b, "from");
    Instant end = to == null ? clock.instant() : to;
    Instant start = from == null ? end.minus(Duration.ofDays(2)) : from;
    if (!start.isBefore(end) || Duration.between(start, end).toDays() > 62) {
      throw BadInput.field("from", "must be before 'to', at most 62 days earlier");
    }
    return stripe().reconcile(start, end).map(report -> new Reply(200, report));
  }

  private void requireEnabled() {
    if (!stripe().enabled()) {
      throw new BadInput(409, "not-configured", "Stripe meter sync is off: STRIPE_API_KEY is not set");
    }
  }
}
