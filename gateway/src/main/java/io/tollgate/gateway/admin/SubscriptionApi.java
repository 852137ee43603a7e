package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.actor;
import static io.tollgate.gateway.admin.AdminApi.body;
import static io.tollgate.gateway.admin.AdminApi.json;

import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.gateway.admin.AdminApi.Reply;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountBilling;
import io.tollgate.metering.accounts.AccountService;
import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditTrail;
import io.tollgate.stripesync.billing.BillingAdmin;
import io.tollgate.stripesync.billing.BillingFailure;
import io.tollgate.stripesync.billing.CheckoutRequest;
import io.tollgate.stripesync.billing.PlanChangePreview;
import io.tollgate.stripesync.billing.StripeBilling;
import io.tollgate.stripesync.billing.SubscriptionInfo;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;

/**
 * Changes to an account's live Stripe subscription: a plan change previewed (Stripe's invoice
 * preview of the prorations) and then made (Stripe's subscription update, the prorations invoiced
 * and charged at once, the change refused when the card is declined), and cancel at period end and
 * its undoing. Stripe is asked and answers here; the account's plan and status follow from
 * Stripe's webhook events ({@code customer.subscription.updated}, {@code invoice.paid}), the one
 * writer of a Stripe-billed account's plan.
 */
final class SubscriptionApi {

  private final AccountService accounts;
  private final BillingAdmin billing;
  private final AuditTrail audit;
  private final TollgateConfig config;
  private final Vertx vertx;
  private final Clock clock;

  SubscriptionApi(AccountService accounts, BillingAdmin billing, AuditTrail audit, TollgateConfig config, Vertx vertx, Clock clock) {
    this.accounts = accounts;
    this.billing = billing;
    this.audit = audit;
    this.config = config;
    this.vertx = vertx;
    this.clock = clock;
  }

  void mount(Router router) {
    router.post("/admin/v1/accounts/:id/plan-change/preview").handler(json(this::preview));
    router.post("/admin/v1/accounts/:id/plan-change").handler(json(this::change));
    router.post("/admin/v1/accounts/:id/subscription/cancel").handler(json(ctx -> cancel(ctx, true)));
    router.post("/admin/v1/accounts/:id/subscription/resume").handler(json(ctx -> cancel(ctx, false)));
  }

  /** The account's request as it was asked: the target plan, its Stripe prices, and when to prorate. */
  private record Target(PlanConfig plan, List<CheckoutRequest.LineItem> prices, Instant prorationDate) {
  }

  private Target target(JsonObject b) {
    String name = Fields.string(b, "plan", true);
    PlanConfig plan = Optional.ofNullable(config.plans().get(name))
        .orElseThrow(() -> BadInput.field("plan", "must be a configured plan: " + String.join(", ", config.plans().keySet())));
    if (plan.stripePrices().isEmpty()) {
      throw BadInput.field("plan", name + " is not sold through Stripe (it has no stripePrices); to end the paid plan, "
          + "POST /admin/v1/accounts/{id}/subscription/cancel");
    }
    List<CheckoutRequest.LineItem> prices = new ArrayList<>();
    // As in Checkout: the first price is the plan's base fee (one of it), the others metered items without a quantity.
    for (int i = 0; i < plan.stripePrices().size(); i++) {
      prices.add(new CheckoutRequest.LineItem(plan.stripePrices().get(i), i == 0 ? 1L : null));
    }
    Instant at = Fields.instant(b, "prorationDate");
    return new Target(plan, prices, at != null ? at : clock.instant());
  }

  /** The account and its live subscription, else a 409 saying why there is nothing to change. */
  private Future<Live> live(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return accounts.get(id).compose(account -> billing.accountBilling(id).map(b -> {
      if (b.subscriptionId() == null || !AccountBilling.live(b.subscriptionStatus())) {
        throw new BadInput(409, "no-live-subscription", "account " + id + " has no live Stripe subscription"
            + (b.subscriptionId() == null ? "" : " (" + b.subscriptionId() + " is " + b.subscriptionStatus() + ")")
            + ": subscribe it through POST /admin/v1/accounts/{id}/checkout");
      }
      return new Live(account, b);
    }));
  }

  private record Live(Account account, AccountBilling billing) {
  }

  private static void checkPeriod(Live live, Target t) {
    Instant end = live.billing().currentPeriodEnd();
    if (end != null && !t.prorationDate().isBefore(end)) {
      throw BadInput.field("prorationDate", "must be before the end of the current period (" + end + ")");
    }
    if (t.prorationDate().isBefore(live.account().periodStart())) {
      throw BadInput.field("prorationDate", "must not be before the start of the current period (" + live.account().periodStart() + ")");
    }
  }

  private static void checkChanges(Live live, Target t) {
    if (live.billing().subscriptionPrices().equals(t.prices().stream().map(CheckoutRequest.LineItem::priceId).toList())) {
      throw new BadInput(409, "plan-unchanged", "subscription " + live.billing().subscriptionId() + " already bills plan "
          + t.plan().name());
    }
  }

  private Future<Reply> preview(RoutingContext ctx) {
    Target t = target(body(ctx));
    return live(ctx).compose(live -> {
      checkPeriod(live, t);
      checkChanges(live, t);
      StripeBilling stripe = stripe();
      return call(() -> stripe.previewPriceChange(live.billing().subscriptionId(), t.prices(), t.prorationDate()))
          .map(p -> new Reply(200, previewJson(live, t, p)));
    });
  }

  private Future<Reply> change(RoutingContext ctx) {
    JsonObject b = body(ctx);
    Target t = target(b);
    String key = Optional.ofNullable(Fields.string(b, "idempotencyKey", false)).orElse(UUID.randomUUID().toString());
    Actor actor = actor(ctx);
    return live(ctx).compose(live -> {
      checkPeriod(live, t);
      checkChanges(live, t);
      StripeBilling stripe = stripe();
      String subId = live.billing().subscriptionId();
      return call(() -> stripe.changePrices(subId, t.prices(), t.prorationDate(),
              "tollgate-plan-change-" + live.account().id() + "-" + key))
          .compose(sub -> audit.record(actor, "billing.plan_change", "account", Long.toString(live.account().id()),
                  new JsonObject().put("plan", live.account().plan()).put("prices", new JsonArray(live.billing().subscriptionPrices())),
                  new JsonObject().put("plan", t.plan().name()).put("subscriptionId", subId).put("prices", new JsonArray(sub.priceIds()))
                      .put("prorationDate", t.prorationDate().getEpochSecond()))
              .map(v -> new Reply(200, answer(live, sub).put("plan", t.plan().name()))));
    });
  }

  private Future<Reply> cancel(RoutingContext ctx, boolean cancel) {
    Actor actor = actor(ctx);
    String key = Optional.ofNullable(Fields.string(body(ctx), "idempotencyKey", false)).orElse(UUID.randomUUID().toString());
    return live(ctx).compose(live -> {
      StripeBilling stripe = stripe();
      String subId = live.billing().subscriptionId();
      return call(() -> stripe.cancelAtPeriodEnd(subId, cancel, "tollgate-" + (cancel ? "cancel-" : "resume-") + live.account().id()
              + "-" + key))
          .compose(sub -> audit.record(actor, cancel ? "billing.cancel_at_period_end" : "billing.resume", "account",
                  Long.toString(live.account().id()), new JsonObject().put("cancelAtPeriodEnd", live.billing().cancelAtPeriodEnd()),
                  new JsonObject().put("subscriptionId", subId).put("cancelAtPeriodEnd", sub.cancelAtPeriodEnd()))
              .map(v -> new Reply(200, answer(live, sub).put("plan", live.account().plan()))));
    });
  }

  private static JsonObject answer(Live live, SubscriptionInfo sub) {
    return new JsonObject().put("accountId", live.account().id()).put("subscription", new JsonObject().put("id", sub.id())
            .put("status", sub.status()).put("prices", new JsonArray(sub.priceIds())).put("cancelAtPeriodEnd", sub.cancelAtPeriodEnd())
            .put("currentPeriodEnd", sub.currentPeriodEnd() == null ? null : sub.currentPeriodEnd().toString()))
        .put("appliedBy", "webhook");
  }

  private static JsonObject previewJson(Live live, Target t, PlanChangePreview p) {
    JsonArray lines = new JsonArray();
    for (PlanChangePreview.Line l : p.lines()) {
      lines.add(new JsonObject().put("description", l.description()).put("amount", l.amount()).put("priceId", l.priceId())
          .put("proration", l.proration()).put("periodStart", l.periodStart() == null ? null : l.periodStart().toString())
          .put("periodEnd", l.periodEnd() == null ? null : l.periodEnd().toString()));
    }
    return new JsonObject().put("accountId", live.account().id()).put("subscriptionId", p.subscriptionId())
        .put("currentPlan", live.account().plan()).put("plan", t.plan().name()).put("prorationDate", p.prorationDate().toString())
        .put("amountDue", p.amountDue()).put("total", p.total()).put("currency", p.currency()).put("lines", lines);
  }

  private StripeBilling stripe() {
    return billing.stripe().orElseThrow(() -> new BadInput(503, "stripe-not-configured",
        "Stripe is not configured: set STRIPE_API_KEY to change subscriptions"));
  }

  /** A blocking Stripe call on a worker; a declined card is a 402, anything else Stripe refused a 502 (503 if worth retrying). */
  private <T> Future<T> call(Callable<T> call) {
    return vertx.<T>executeBlocking(call, false).recover(err -> Future.failedFuture(err instanceof BillingFailure f
        ? f.kind() == BillingFailure.Kind.CARD_DECLINED || f.kind() == BillingFailure.Kind.AUTHENTICATION_REQUIRED
            ? new BadInput(402, "card-declined", f.getMessage() + " (the subscription is unchanged)")
            : new BadInput(f.retryable() ? 503 : 502, "stripe-error", f.getMessage())
        : err));
  }
}
