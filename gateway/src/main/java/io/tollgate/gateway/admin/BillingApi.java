package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.actor;
import static io.tollgate.gateway.admin.AdminApi.body;
import static io.tollgate.gateway.admin.AdminApi.json;
import static io.tollgate.gateway.admin.AdminApi.queryId;
import static io.tollgate.gateway.admin.AdminApi.queryInt;

import io.tollgate.config.Credits;
import io.tollgate.config.BillingConfig;
import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.gateway.admin.AdminApi.Reply;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountService;
import io.tollgate.metering.accounts.AccountStatus;
import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditTrail;
import io.tollgate.metering.usage.UsageQueries;
import io.tollgate.stripesync.billing.BillingAdmin;
import io.tollgate.stripesync.billing.BillingFailure;
import io.tollgate.stripesync.billing.CheckoutRequest;
import io.tollgate.stripesync.billing.Checkouts;
import io.tollgate.stripesync.billing.StripeBilling;
import io.tollgate.stripesync.webhooks.StripeEventStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;

/**
 * Subscriptions and credits for the operator's app: Checkout and Customer Portal links,
 * subscription status with limits and usage, access checks, invoices, auto top-up settings and
 * history, and the stored Stripe webhook events (list, inspect, replay).
 */
public final class BillingApi {

  private static final Set<String> EVENT_STATUSES = Set.of("pending", "processed", "parked");

  private final AccountService accounts;
  private final BillingAdmin billing;
  private final UsageQueries usage;
  private final AuditTrail audit;
  private final TollgateConfig config;
  private final Vertx vertx;
  private final SubscriptionApi subscriptions;

  public BillingApi(AccountService accounts, BillingAdmin billing, UsageQueries usage, AuditTrail audit, TollgateConfig config,
                    Vertx vertx, java.time.Clock clock) {
    this.subscriptions = new SubscriptionApi(accounts, billing, audit, config, vertx, clock);
    this.accounts = accounts;
    this.billing = billing;
    this.usage = usage;
    this.audit = audit;
    this.config = config;
    this.vertx = vertx;
  }

  void mount(Router router) {
    router.post("/admin/v1/accounts/:id/checkout").handler(json(this::checkout));
    router.post("/admin/v1/accounts/:id/portal").handler(json(this::portal));
    router.get("/admin/v1/accounts/:id/subscription").handler(json(this::subscription));
    router.get("/admin/v1/accounts/:id/access").handler(json(this::access));
    router.get("/admin/v1/accounts/:id/invoices").handler(json(this::invoices));
    router.put("/admin/v1/accounts/:id/auto-top-up").handler(json(this::setAutoTopUp));
    router.delete("/admin/v1/accounts/:id/auto-top-up").handler(json(this::clearAutoTopUp));
    router.get("/admin/v1/accounts/:id/top-ups").handler(json(this::topUps));
    router.get("/admin/v1/webhooks/stripe/events").handler(json(this::events));
    router.get("/admin/v1/webhooks/stripe/events/:eventId").handler(json(this::event));
    router.post("/admin/v1/webhooks/stripe/events/:eventId/replay").handler(json(this::replay));
    subscriptions.mount(router);
  }

  private StripeBilling stripe() {
    return billing.stripe().orElseThrow(() -> new BadInput(503, "stripe-not-configured",
        "Stripe is not configured: set STRIPE_API_KEY to create Checkout and portal sessions"));
  }

  private Future<Account> account(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return accounts.get(id);
  }

  /** A blocking Stripe call on a worker thread; its failure becomes a 502 naming what Stripe said. */
  private <T> Future<T> call(Callable<T> call) {
    return vertx.<T>executeBlocking(call, false).recover(err -> Future.failedFuture(err instanceof BillingFailure f
        ? new BadInput(f.retryable() ? 503 : 502, "stripe-error", f.getMessage())
        : err));
  }

  // ---- Checkout and the portal

  private Future<Reply> checkout(RoutingContext ctx) {
    JsonObject b = body(ctx);
    String planName = Fields.string(b, "plan", false);
    String packName = Fields.string(b, "pack", false);
    if ((planName == null) == (packName == null)) {
      throw BadInput.field("plan", "or 'pack' is required, not both: a plan to subscribe to, or a credit pack to buy");
    }
    BillingConfig bc = config.billing();
    CheckoutRequest.Trial trial = CheckoutTrial.parse(b, bc.trialDays());
    String email = Fields.string(b, "email", false);
    String key = Optional.ofNullable(Fields.string(b, "idempotencyKey", false)).orElse(UUID.randomUUID().toString());
    PlanConfig plan = null;
    BillingConfig.CreditPack pack = null;
    if (planName != null) {
      plan = Optional.ofNullable(config.plans().get(planName))
          .orElseThrow(() -> BadInput.field("plan", "must be a configured plan: " + String.join(", ", config.plans().keySet())));
      if (plan.stripePrices().isEmpty()) {
        throw BadInput.field("plan", planName + " is not sold through Stripe (it has no stripePrices)");
      }
    } else {
      pack = pack(packName);
      if (trial != null) {
        throw BadInput.field(b.containsKey("trial") ? "trial" : "trialDays", "applies to plans only");
      }
    }
    // The return URLs after the plan or pack: a wrong product is the likelier mistake, and the one to name first.
    String success = url(b, "successUrl", bc.checkoutSuccessUrl());
    String cancel = url(b, "cancelUrl", bc.checkoutCancelUrl());
    Checkouts.Order order = plan != null ? Checkouts.Order.plan(planName, plan, success, cancel, trial, email, key)
        : Checkouts.Order.pack(packName, pack, success, cancel, email, key);
    Actor actor = actor(ctx);
    return account(ctx).compose(account -> billing.checkouts().open(vertx, account, order, actor))
        .recover(err -> Future.failedFuture(checkoutFailure(err)))
        .map(opened -> new Reply(201, new JsonObject().put("id", opened.link().id()).put("url", opened.link().url())
            .put("expiresAt", opened.link().expiresAt() == null ? null : opened.link().expiresAt().toString())
            .put("stripeCustomerId", opened.stripeCustomerId())));
  }

  /** The admin API's answers to a Checkout the domain refused: 503 without Stripe, 409 with a live subscription, 502/503 from Stripe. */
  private static Throwable checkoutFailure(Throwable err) {
    if (err instanceof Checkouts.StripeNotConfigured) {
      return new BadInput(503, "stripe-not-configured", "Stripe is not configured: set STRIPE_API_KEY to create Checkout and portal sessions");
    }
    if (err instanceof Checkouts.SubscriptionExists e) {
      return new BadInput(409, "subscription-exists", "account " + e.accountId() + " already has a live subscription, "
          + e.subscriptionId() + " (" + e.status() + "): change its plan with POST /admin/v1/accounts/" + e.accountId()
          + "/plan-change, or cancel it first");
    }
    if (err instanceof BillingFailure f) {
      return new BadInput(f.retryable() ? 503 : 502, "stripe-error", f.getMessage());
    }
    return err;
  }

  private Future<Reply> portal(RoutingContext ctx) {
    JsonObject b = body(ctx);
    String returnUrl = url(b, "returnUrl", config.billing().portalReturnUrl());
    return account(ctx).compose(account -> {
      if (account.stripeCustomerId() == null) {
        throw new BadInput(409, "no-stripe-customer", "account " + account.id()
            + " has no Stripe customer yet (it gets one with its first Checkout session)");
      }
      StripeBilling stripe = stripe();
      return call(() -> stripe.createPortalSession(account.stripeCustomerId(), returnUrl,
              "tollgate-portal-" + account.id() + "-" + UUID.randomUUID()))
          .map(url -> new Reply(201, new JsonObject().put("url", url)));
    });
  }

  /** The configured credit pack of this name, else a 400 naming the packs there are. */
  private BillingConfig.CreditPack pack(String name) {
    Map<String, BillingConfig.CreditPack> packs = config.billing().creditPacks();
    return Optional.ofNullable(packs.get(name)).orElseThrow(() -> BadInput.field("pack", "must be a configured credit pack"
        + (packs.isEmpty() ? " (none is configured under billing.creditPacks)" : ": " + String.join(", ", packs.keySet()))));
  }

  /** The request's URL, else the configured default; one of them is required. */
  private static String url(JsonObject b, String field, Optional<URI> fallback) {
    return Optional.ofNullable(Fields.httpUrl(b, field)).or(() -> fallback.map(URI::toString)).orElseThrow(() -> BadInput.field(field,
        "is required (or set a default under billing: in the configuration)"));
  }

  // ---- status, access and invoices

  private Future<Reply> subscription(RoutingContext ctx) {
    return account(ctx).compose(account -> billing.accountBilling(account.id()).compose(ab -> {
      PlanConfig plan = config.plan(account.plan());
      return usage.totals(account.id(), account.periodStart(), account.periodEnd())
          .compose(u -> accounts.spendable(account).map(spendable -> {
            long used = u.credits();
            JsonObject out = new JsonObject().put("accountId", account.id()).put("plan", account.plan()).put("status", account.status())
                .put("billingMode", account.billingMode()).put("stripeCustomerId", account.stripeCustomerId())
                .put("subscription", ab.subscriptionId() == null ? null : ab.subscriptionJson())
                .put("period", new JsonObject().put("start", account.periodStart().toString()).put("end", account.periodEnd().toString()))
                .put("limits", new JsonObject()
                    .put("requestsPerMinute", account.requestsPerMinute() != null ? account.requestsPerMinute() : plan.requestsPerMinute())
                    .put("tokensPerMinute", account.tokensPerMinute() != null ? account.tokensPerMinute() : plan.tokensPerMinute())
                    .put("includedCredits", Credits.json(plan.includedCredits())).put("spendCap", Credits.json(account.spendCap())))
                .put("usage", new JsonObject().put("requests", u.requests()).put("credits", Credits.json(used))
                    .put("includedCreditsRemaining", Credits.json(Math.max(0, plan.includedCredits() - used))))
                .put("credits", new JsonObject().put("spendable", Credits.json(spendable)))
                .put("entitlements", entitlements(plan))
                .put("autoTopUp", ab.autoTopUpJson());
            return new Reply(200, out);
          }));
    }));
  }

  private static JsonObject entitlements(PlanConfig plan) {
    return new JsonObject().put("models", plan.models().isEmpty() ? null : new JsonArray(plan.models()))
        .put("features", new JsonArray(plan.features())).put("overage", plan.overage().wire());
  }

  /** The checks the proxy makes, for the operator's app: may this account use this feature or model now? */
  private Future<Reply> access(RoutingContext ctx) {
    String feature = ctx.queryParams().get("feature");
    String model = ctx.queryParams().get("model");
    return account(ctx).compose(account -> accounts.spendable(account).map(spendable -> {
      PlanConfig plan = config.plan(account.plan());
      List<String> denied = new ArrayList<>();
      if (!AccountStatus.of(account.status()).admitsTraffic()) {
        denied.add("account is " + account.status());
      }
      if (feature != null && !plan.hasFeature(feature)) {
        denied.add("plan " + plan.name() + " does not include feature " + feature);
      }
      if (model != null && !plan.allowsModel(model)) {
        denied.add("plan " + plan.name() + " does not include model " + model);
      }
      if (account.enforcesCredits() && !plan.billsOverage(account.billingMode()) && spendable <= 0) {
        denied.add("no credits remaining");
      }
      return new Reply(200, new JsonObject().put("allowed", denied.isEmpty()).put("reasons", new JsonArray(denied))
          .put("plan", plan.name()).put("status", account.status()).put("creditsRemaining", Credits.json(spendable))
          .put("entitlements", entitlements(plan)));
    }));
  }

  private Future<Reply> invoices(RoutingContext ctx) {
    int limit = queryInt(ctx, "limit", 20, 1, 100);
    boolean refresh = "true".equals(ctx.queryParams().get("refresh"));
    return account(ctx).compose(account -> {
      Future<Void> refreshed = Future.succeededFuture();
      if (refresh && account.stripeCustomerId() != null) {
        StripeBilling stripe = stripe();
        refreshed = call(() -> stripe.listInvoices(account.stripeCustomerId(), limit))
            .compose(list -> billing.cacheInvoices(account.id(), account.stripeCustomerId(), list));
      }
      return refreshed.compose(v -> billing.invoices(account.id(), limit))
          .map(data -> new Reply(200, new JsonObject().put("data", new JsonArray(List.copyOf(data)))));
    });
  }

  // ---- auto top-up

  private Future<Reply> setAutoTopUp(RoutingContext ctx) {
    JsonObject b = body(ctx);
    String pack = Fields.string(b, "pack", true);
    pack(pack);
    Long threshold = Fields.nonNegativeCredits(b, "thresholdCredits");
    if (threshold == null) {
      throw BadInput.field("thresholdCredits", "is required (top up when spendable credits fall below it)");
    }
    return changeAutoTopUp(ctx, pack, threshold);
  }

  private Future<Reply> clearAutoTopUp(RoutingContext ctx) {
    return changeAutoTopUp(ctx, null, null);
  }

  private Future<Reply> changeAutoTopUp(RoutingContext ctx, String pack, Long threshold) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return billing.changeAutoTopUp(id, pack, threshold, actor(ctx))
        .map(after -> new Reply(200, new JsonObject().put("accountId", id).put("autoTopUp", after.autoTopUpJson())
            .put("active", after.autoTopUpPack() != null && billing.topUpsEnabled())));
  }

  private Future<Reply> topUps(RoutingContext ctx) {
    int limit = queryInt(ctx, "limit", 20, 1, 100);
    return account(ctx).compose(account -> billing.topUps(account.id(), limit))
        .map(list -> new Reply(200, new JsonObject().put("data", list)));
  }

  // ---- stored webhook events

  private Future<Reply> events(RoutingContext ctx) {
    String status = ctx.queryParams().get("status");
    if (status != null && !EVENT_STATUSES.contains(status)) {
      throw new BadInput(400, "invalid-request", "query parameter 'status' must be pending, processed or parked");
    }
    String type = ctx.queryParams().get("type");
    Long accountId = queryId(ctx, "accountId");
    int limit = queryInt(ctx, "limit", 50, 1, 500);
    StripeEventStore.Cursor before = cursor(ctx.queryParams().get("before"));
    return billing.events(status, type, accountId, before, limit).map(rows -> {
      JsonObject out = new JsonObject().put("data", new JsonArray(List.copyOf(rows)));
      if (rows.size() == limit) {
        JsonObject last = rows.get(rows.size() - 1);
        out.put("nextBefore", last.getString("receivedAt") + "," + last.getString("id"));
      }
      return new Reply(200, out);
    });
  }

  private static StripeEventStore.Cursor cursor(String raw) {
    if (raw == null) {
      return null;
    }
    int comma = raw.indexOf(',');
    try {
      if (comma > 0) {
        return new StripeEventStore.Cursor(Instant.parse(raw.substring(0, comma)), raw.substring(comma + 1));
      }
    } catch (java.time.format.DateTimeParseException ignored) {
      // reported below
    }
    throw new BadInput(400, "invalid-request", "query parameter 'before' must be the nextBefore of a previous page");
  }

  private Future<Reply> event(RoutingContext ctx) {
    String id = ctx.pathParam("eventId");
    return billing.event(id)
        .map(found -> new Reply(200, found.orElseThrow(() -> BadInput.notFound("Stripe event " + abbreviate(id)))));
  }

  private Future<Reply> replay(RoutingContext ctx) {
    String id = ctx.pathParam("eventId");
    return billing.replay(id, actor(ctx)).map(found -> {
      if (!found) {
        throw BadInput.notFound("Stripe event " + abbreviate(id));
      }
      return new Reply(202, new JsonObject().put("id", id).put("status", "pending"));
    });
  }

  private static String abbreviate(String s) {
    return s.length() <= 80 ? s : s.substring(0, 80) + "…";
  }
}
