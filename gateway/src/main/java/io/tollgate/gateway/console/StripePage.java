package io.tollgate.gateway.console;

import io.tollgate.metering.Refusal;
import io.tollgate.metering.audit.AuditTrail;
import io.tollgate.stripesync.MeterSyncJobs;
import io.tollgate.stripesync.billing.BillingAdmin;
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

/**
 * Stripe: the meter sync's state, its dead letters with retry, the stored webhook events with
 * replay, and a reconciliation run on demand, through the same services as the admin API's
 * Stripe and webhook endpoints.
 */
final class StripePage {

  static final int LATEST = 50;

  private final Console console;
  private final MeterSyncJobs meterSync;
  private final BillingAdmin billing;
  private final AuditTrail audit;
  private final Clock clock;

  StripePage(Console console, MeterSyncJobs meterSync, BillingAdmin billing, AuditTrail audit, Clock clock) {
    this.console = console;
    this.meterSync = meterSync;
    this.billing = billing;
    this.audit = audit;
    this.clock = clock;
  }

  void mount(Router router) {
    router.get("/console/stripe").handler(ctx -> page(ctx, null));
    router.post("/console/stripe/outbox/:id/retry").handler(this::retry);
    router.post("/console/stripe/events/:eventId/replay").handler(this::replay);
    router.post("/console/stripe/reconcile").handler(this::reconcile);
  }

  private void page(RoutingContext ctx, String reconciliation) {
    Future.all(console.chrome(ctx, "Stripe", "stripe"), meterSync.outbox().stats(), meterSync.outbox().list("dead", Long.MAX_VALUE, LATEST),
            billing.events(null, null, null, null, LATEST))
        .onSuccess(all -> {
          var stats = all.<io.tollgate.stripesync.MeterOutbox.Stats>resultAt(1);
          List<View.Stat> state = List.of(
              new View.Stat("Meter sync", meterSync.enabled() ? "on" : "off", meterSync.enabled() ? "usage is sent to Stripe"
                  : "STRIPE_API_KEY is not set"),
              new View.Stat("Circuit breaker", meterSync.sync().map(s -> s.breakerState().name().toLowerCase(java.util.Locale.ROOT)).orElse("—"),
                  "open: calls to Stripe are paused"),
              new View.Stat("Outbox pending", Long.toString(stats.pending()), "rows waiting to be sent"),
              new View.Stat("Dead letters", Long.toString(stats.dead()), "rows Stripe refused for good"),
              new View.Stat("Oldest pending", Math.round(stats.oldestPendingSeconds()) + " s", "age of the oldest unsent row"),
              new View.Stat("Unlinked accounts", Long.toString(stats.unlinkedAccounts()), "usage of accounts without a Stripe customer"));
          List<View.DeadLetter> dead = new ArrayList<>();
          for (JsonObject r : all.<List<JsonObject>>resultAt(2)) {
            dead.add(new View.DeadLetter(r.getLong("id"), r.getLong("accountId"), View.credits(r.getValue("value")),
                r.getString("windowStart") + " → " + r.getString("windowEnd"), r.getInteger("attempts"), r.getString("lastError")));
          }
          List<View.WebhookEvent> events = new ArrayList<>();
          for (JsonObject e : all.<List<JsonObject>>resultAt(3)) {
            events.add(new View.WebhookEvent(e.getString("id"), e.getString("type"), e.getString("status"),
                e.getString("receivedAt") == null ? "—" : View.time(Instant.parse(e.getString("receivedAt"))), e.getLong("accountId"),
                e.getString("lastError")));
          }
          console.render(ctx, 200, "stripe.jte", new View.Stripe(all.resultAt(0), state, dead, events,
              meterSync.enabled() && meterSync.reconciler().isPresent(), reconciliation));
        })
        .onFailure(err -> console.fail(ctx, err));
  }

  private void retry(RoutingContext ctx) {
    Future.<Void>future(p -> {
      long id = FormError.pathId(ctx, "id", "outbox item");
      meterSync.outbox().retryDead(List.of(id)).compose(retried -> {
        if (retried.isEmpty()) {
          return Future.failedFuture(Refusal.conflict("outbox item " + id + " is not a dead letter (already retried or sent)"));
        }
        return audit.record(Console.actor(ctx), "stripe.outbox.retry", "stripe_outbox", null, null,
            new JsonObject().put("ids", new JsonArray(retried)));
      }).onComplete(p);
    }).onSuccess(v -> Console.redirect(ctx, "/console/stripe?done=Queued+for+another+try"))
        .onFailure(err -> console.fail(ctx, err));
  }

  private void replay(RoutingContext ctx) {
    String id = ctx.pathParam("eventId");
    if (id == null || !id.matches("evt_[A-Za-z0-9_]{1,200}")) {
      console.fail(ctx, Refusal.notFound("webhook event " + id));
      return;
    }
    billing.replay(id, Console.actor(ctx)).onSuccess(found -> {
      if (found) {
        Console.redirect(ctx, "/console/stripe?done=Event+queued+for+replay");
      } else {
        console.fail(ctx, Refusal.notFound("webhook event " + id));
      }
    }).onFailure(err -> console.fail(ctx, err));
  }

  private void reconcile(RoutingContext ctx) {
    if (!meterSync.enabled() || meterSync.reconciler().isEmpty()) {
      console.fail(ctx, Refusal.conflict("reconciliation needs Stripe meter sync (STRIPE_API_KEY) and stripe.meterId"));
      return;
    }
    Instant end = clock.instant();
    meterSync.reconcile(end.minus(Duration.ofDays(2)), end)
        .onSuccess(report -> {
          ctx.queryParams().set("done", "Reconciled the last two days");
          page(ctx, report.encodePrettily());
        })
        .onFailure(err -> console.fail(ctx, err));
  }
}
