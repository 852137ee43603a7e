package io.tollgate.gateway.admin;

import io.tollgate.config.Credits;
import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.gateway.ops.Problems;
import io.tollgate.metering.Refusal;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountService;
import io.tollgate.metering.accounts.AccountStatus;
import io.tollgate.metering.accounts.AccountStore.NewAccount;
import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditLog;
import io.tollgate.metering.audit.AuditTrail;
import io.tollgate.metering.keys.ApiKey;
import io.tollgate.metering.keys.ApiKeyFormat;
import io.tollgate.metering.keys.KeyBudget;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The admin API under {@code /admin/v1}: accounts, API keys, credits and the audit log, and the
 * other admin resources mounted beside them. Handlers parse the request, call a service
 * ({@link AccountService}: each mutation one transaction with its audit row) and render its
 * answer; {@link #fail} is the one mapping from failures to problem+json.
 */
public final class AdminApi {

  /** The longest overlap a rotated key keeps working beside its replacement. */
  static final long MAX_OVERLAP_HOURS = 720;
  private static final Set<String> BILLING_MODES = Set.of("prepaid", "postpaid", "hybrid");
  private static final Set<String> STATUSES = Arrays.stream(AccountStatus.values()).map(AccountStatus::dbValue)
      .collect(Collectors.toUnmodifiableSet());

  private final AccountService accounts;
  private final AuditTrail audit;
  private final TollgateConfig config;
  private final Clock clock;
  private final UsageApi usage;
  private final NotificationsApi notifications;
  private final StripeApi stripe;
  private final BillingApi billing;
  private final PlansApi plans;

  public AdminApi(AccountService accounts, AuditTrail audit, TollgateConfig config, Clock clock, UsageApi usage,
                  NotificationsApi notifications, StripeApi stripe, BillingApi billing, PlansApi plans) {
    this.accounts = accounts;
    this.audit = audit;
    this.config = config;
    this.clock = clock;
    this.usage = usage;
    this.notifications = notifications;
    this.stripe = stripe;
    this.billing = billing;
    this.plans = plans;
  }

  public void mount(Router router) {
    router.route("/admin/v1/*").handler(BodyHandler.create().setBodyLimit(64 * 1024));
    router.route("/admin/v1/*").handler(AdminApi::checkQuery);
    router.post("/admin/v1/accounts").handler(json(this::createAccount));
    router.get("/admin/v1/accounts").handler(json(this::listAccounts));
    router.get("/admin/v1/accounts/:id").handler(json(this::getAccount));
    router.patch("/admin/v1/accounts/:id").handler(json(this::updateAccount));
    router.post("/admin/v1/accounts/:id/trial").handler(json(this::startTrial));
    router.post("/admin/v1/accounts/:id/keys").handler(json(this::createKey));
    router.get("/admin/v1/accounts/:id/keys").handler(json(this::listKeys));
    router.post("/admin/v1/keys/:keyId/revoke").handler(json(this::revokeKey));
    router.post("/admin/v1/keys/:keyId/rotate").handler(json(this::rotateKey));
    router.put("/admin/v1/keys/:keyId/budget").handler(json(this::setKeyBudget));
    router.delete("/admin/v1/keys/:keyId/budget").handler(json(this::clearKeyBudget));
    router.post("/admin/v1/accounts/:id/credits").handler(json(this::changeCredits));
    router.get("/admin/v1/accounts/:id/credits").handler(json(this::credits));
    router.post("/admin/v1/accounts/:id/credits/rebuild").handler(json(this::rebuildBalance));
    router.get("/admin/v1/audit-log").handler(this::auditLog);
    usage.mount(router);
    notifications.mount(router);
    stripe.mount(router);
    billing.mount(router);
    plans.mount(router);
  }

  /** Query parameters become filters and CSV cells: refused with 400 when too long or holding control characters. */
  private static void checkQuery(RoutingContext ctx) {
    for (java.util.Map.Entry<String, String> p : ctx.queryParams()) {
      String problem = Fields.textProblem(p.getValue());
      if (problem != null) {
        fail(ctx, new BadInput(400, "invalid-request", "query parameter '" + p.getKey() + "' " + problem));
        return;
      }
    }
    ctx.next();
  }

  /** A handler that answers JSON, or problem+json for whatever went wrong. */
  static io.vertx.core.Handler<RoutingContext> json(Function<RoutingContext, Future<Reply>> handler) {
    return ctx -> {
      Future<Reply> reply;
      try {
        reply = handler.apply(ctx);
      } catch (RuntimeException e) {
        reply = Future.failedFuture(e);
      }
      reply.onSuccess(r -> ctx.response().setStatusCode(r.status()).putHeader("content-type", "application/json")
              .end(r.body().toBuffer()))
          .onFailure(err -> fail(ctx, err));
    };
  }

  record Reply(int status, JsonObject body) {
  }

  static void fail(RoutingContext ctx, Throwable err) {
    if (err instanceof BadInput bad) {
      String title = bad.status == 404 ? "Not found" : bad.status == 409 ? "Conflict" : bad.status == 502 ? "Stripe refused the request"
          : bad.status >= 500 ? "Service unavailable" : "Invalid request";
      Problems.send(ctx, bad.status, bad.code, title, bad.getMessage());
    } else if (err instanceof Refusal refusal) {
      switch (refusal.kind()) {
        case NOT_FOUND -> Problems.send(ctx, 404, "not-found", "Not found", refusal.getMessage());
        case CONFLICT -> Problems.send(ctx, 409, "conflict", "Conflict", refusal.getMessage());
        case INVALID -> Problems.send(ctx, 400, "invalid-request", "Invalid request", refusal.getMessage());
      }
    } else if (err instanceof io.vertx.pgclient.PgException pg && "23505".equals(pg.getSqlState())) {
      Problems.send(ctx, 409, "conflict", "Conflict", "a resource with the same unique value already exists");
    } else {
      ctx.fail(err);
    }
  }

  static JsonObject body(RoutingContext ctx) {
    try {
      JsonObject body = ExactJson.object(ctx.body().buffer());
      return body == null ? new JsonObject() : body;
    } catch (DecodeException | ClassCastException e) {
      throw new BadInput(400, "invalid-json", "request body is not a JSON object");
    }
  }

  /** Who is asking, for the audit log: the {@code x-tollgate-actor} header (else the token) and the client's address. */
  static Actor actor(RoutingContext ctx) {
    String actor = ctx.request().getHeader("x-tollgate-actor");
    String ip = ctx.request().remoteAddress() == null ? null : ctx.request().remoteAddress().hostAddress();
    return new Actor(actor == null || actor.isBlank() ? "admin-token" : actor.substring(0, Math.min(actor.length(), 200)), ip);
  }

  // ---- accounts

  private Future<Reply> createAccount(RoutingContext ctx) {
    JsonObject b = body(ctx);
    JsonObject limits = Fields.object(b, "limits");
    String plan = Fields.string(b, "plan", false);
    if (plan != null && !config.plans().containsKey(plan)) {
      throw unknownPlan();
    }
    NewAccount account = new NewAccount(Fields.string(b, "name", true), plan == null ? "free" : plan,
        Fields.oneOf(b, "billingMode", BILLING_MODES, "prepaid"), Fields.nonNegativeCredits(b, "spendCap"),
        Fields.nonNegative(limits, "requestsPerMinute"), Fields.nonNegative(limits, "tokensPerMinute"),
        webhookUrl(b));
    long initialCredits = Optional.ofNullable(Fields.nonNegativeCredits(b, "initialCredits")).orElse(0L);
    return accounts.create(account, initialCredits, actor(ctx)).compose(this::withCredits).map(json -> new Reply(201, json));
  }

  private BadInput unknownPlan() {
    return BadInput.field("plan", "must be a configured plan: " + String.join(", ", config.plans().keySet()));
  }

  /** A Stripe customer id (cus_...), or null to unlink the account. */
  private static String stripeCustomer(JsonObject b) {
    String id = Fields.string(b, "stripeCustomerId", false);
    if (id != null && !id.matches("cus_[A-Za-z0-9]{1,64}")) {
      throw BadInput.field("stripeCustomerId", "must be a Stripe customer id (cus_ followed by letters and digits), or null");
    }
    return id;
  }

  /** An absolute http(s) URL, or null to clear it. */
  private static String webhookUrl(JsonObject b) {
    return Fields.httpUrl(b, "alertWebhookUrl");
  }

  /** Percentages 1-1000, stored ascending and distinct; null restores the plan's. */
  private static List<Integer> thresholds(JsonObject alerts) {
    Object raw = alerts.getValue("thresholds");
    if (raw == null) {
      return null;
    }
    if (!(raw instanceof JsonArray array) || array.isEmpty() || array.size() > 20) {
      throw BadInput.field("alerts.thresholds", "must be a list of 1-20 percentages (1-1000), or null for the plan's");
    }
    java.util.TreeSet<Integer> out = new java.util.TreeSet<>();
    for (Object v : array) {
      if (!(v instanceof Integer n) || n < 1 || n > 1_000) {
        throw BadInput.field("alerts.thresholds", "must hold integers 1-1000, got " + v);
      }
      out.add(n);
    }
    return List.copyOf(out);
  }

  private Future<JsonObject> withCredits(Account account) {
    PlanConfig plan = config.plan(account.plan());
    return accounts.spendable(account).map(spendable -> account.toJson()
            .put("credits", new JsonObject().put("spendable", Credits.json(spendable)).put("enforced", account.enforcesCredits()))
            .put("planLimits", new JsonObject().put("requestsPerMinute", plan.requestsPerMinute())
                .put("tokensPerMinute", plan.tokensPerMinute()).put("includedCredits", Credits.json(plan.includedCredits()))));
  }

  private Future<Reply> getAccount(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return accounts.get(id).compose(this::withCredits).map(json -> new Reply(200, json));
  }

  private Future<Reply> listAccounts(RoutingContext ctx) {
    int limit = queryInt(ctx, "limit", 50, 1, 500);
    long after = queryInt(ctx, "after", 0, 0, Integer.MAX_VALUE);
    return accounts.page(after, limit).map(page -> {
      JsonArray data = new JsonArray();
      page.forEach(a -> data.add(a.toJson()));
      JsonObject out = new JsonObject().put("data", data);
      if (page.size() == limit) {
        out.put("nextAfter", page.get(page.size() - 1).id());
      }
      return new Reply(200, out);
    });
  }

  /** {@code {plan, days?}}: a local trial for an account without a Stripe customer (days default billing.trialDays). */
  private Future<Reply> startTrial(RoutingContext ctx) {
    JsonObject b = body(ctx);
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    String plan = Fields.string(b, "plan", true);
    Long days = Fields.nonNegative(b, "days");
    if (days != null && (days < 1 || days > 730)) {
      throw BadInput.field("days", "must be an integer from 1 to 730");
    }
    return accounts.startLocalTrial(id, plan, days == null ? config.billing().trialDays() : days.intValue(), actor(ctx))
        .compose(this::withCredits).map(json -> new Reply(200, json));
  }

  private Future<Reply> updateAccount(RoutingContext ctx) {
    JsonObject b = body(ctx);
    Actor actor = actor(ctx);
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return accounts.update(id, before -> {
      JsonObject limits = b.containsKey("limits") ? Fields.object(b, "limits") : null;
      JsonObject alerts = b.containsKey("alerts") ? Fields.object(b, "alerts") : null;
      String plan = b.containsKey("plan") ? Fields.string(b, "plan", true) : before.plan();
      if (!config.plans().containsKey(plan)) {
        throw unknownPlan();
      }
      return new Account(before.id(),
          b.containsKey("name") ? Fields.string(b, "name", true) : before.name(), plan,
          b.containsKey("billingMode") ? Fields.oneOf(b, "billingMode", BILLING_MODES, before.billingMode()) : before.billingMode(),
          b.containsKey("status") ? Fields.oneOf(b, "status", STATUSES, before.status()) : before.status(),
          b.containsKey("stripeCustomerId") ? stripeCustomer(b) : before.stripeCustomerId(),
          b.containsKey("spendCap") ? Fields.nonNegativeCredits(b, "spendCap") : before.spendCap(),
          limits != null && limits.containsKey("requestsPerMinute") ? Fields.nonNegative(limits, "requestsPerMinute") : before.requestsPerMinute(),
          limits != null && limits.containsKey("tokensPerMinute") ? Fields.nonNegative(limits, "tokensPerMinute") : before.tokensPerMinute(),
          b.containsKey("alertWebhookUrl") ? webhookUrl(b) : before.alertWebhookUrl(),
          before.shard(), before.periodStart(), before.periodEnd(), before.createdAt(), before.updatedAt(),
          alerts != null && alerts.containsKey("thresholds") ? thresholds(alerts) : before.alertThresholds(),
          alerts != null && alerts.containsKey("lowBalanceCredits") ? Fields.nonNegativeCredits(alerts, "alerts.lowBalanceCredits", "lowBalanceCredits")
              : before.lowBalanceCredits(), before.trialEndsAt());
    }, actor).compose(this::withCredits).map(json -> new Reply(200, json));
  }

  // ---- keys

  private Future<Reply> createKey(RoutingContext ctx) {
    JsonObject b = body(ctx);
    JsonObject limits = Fields.object(b, "limits");
    JsonObject scopes = scopes(Fields.object(b, "scopes"));
    String environment = Fields.oneOf(b, "environment", Set.of("live", "test"), "live");
    Instant expiresAt = Fields.instant(b, "expiresAt");
    if (expiresAt != null && !expiresAt.isAfter(clock.instant())) {
      throw BadInput.field("expiresAt", "must be in the future");
    }
    Actor actor = actor(ctx);
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    // The account is looked up before the key's name and limits are read: an unknown account is a 404 whatever they say.
    Budget budget = b.containsKey("budget") ? budget(Fields.object(b, "budget")) : null;
    return accounts.get(id).compose(account -> accounts.createKey(account, new AccountService.NewKey(
            environment.equals("live") ? ApiKeyFormat.LIVE : ApiKeyFormat.TEST, Fields.string(b, "name", false), scopes,
            Fields.nonNegative(limits, "requestsPerMinute"), Fields.nonNegative(limits, "tokensPerMinute"), expiresAt,
            budget == null ? null : budget.credits(), budget == null ? null : budget.period(), null), actor)
        .compose(created -> withSpend(created.key().toJson(clock.instant()).put("key", created.plaintext()), created.key(), account)))
        .map(json -> new Reply(201, json));
  }

  /** A key budget as asked: {@code {credits, period?}} (period: period, the default, or lifetime). */
  private record Budget(long credits, String period) {
  }

  private static Budget budget(JsonObject raw) {
    // In units (millicredits), like every credit amount past the API.
    Long credits = Fields.nonNegativeCredits(raw, "budget.credits", "credits");
    if (credits == null) {
      throw BadInput.field("budget.credits", "is required: the credits the key may spend per period (or over its life)");
    }
    return new Budget(credits, Fields.oneOf(raw, "period", Set.of(KeyBudget.PERIOD, KeyBudget.LIFETIME), KeyBudget.PERIOD));
  }

  /** The key's JSON with its budget's spend and what is left, when it has a budget. */
  private Future<JsonObject> withSpend(JsonObject json, ApiKey key, Account account) {
    return accounts.keySpent(key, account).map(spent -> {
      if (spent != null) {
        json.getJsonObject("budget").put("spent", Credits.json(spent))
            .put("remaining", Credits.json(Math.max(0, key.budget().credits() - spent)))
            .put("window", key.budget().window(account.periodStart()).equals("life") ? null
                : new JsonObject().put("start", account.periodStart().toString()).put("end", account.periodEnd().toString()));
      }
      return json;
    });
  }

  private Future<Reply> setKeyBudget(RoutingContext ctx) {
    long keyId = Fields.pathId(ctx.pathParam("keyId"), "key");
    Budget budget = budget(body(ctx));
    return accounts.setKeyBudget(keyId, budget.credits(), budget.period(), actor(ctx)).compose(this::keyWithSpend)
        .map(json -> new Reply(200, json));
  }

  private Future<Reply> clearKeyBudget(RoutingContext ctx) {
    long keyId = Fields.pathId(ctx.pathParam("keyId"), "key");
    return accounts.setKeyBudget(keyId, null, null, actor(ctx)).compose(this::keyWithSpend).map(json -> new Reply(200, json));
  }

  private Future<JsonObject> keyWithSpend(ApiKey key) {
    return accounts.get(key.accountId()).compose(account -> withSpend(key.toJson(clock.instant()), key, account));
  }

  private static JsonObject scopes(JsonObject raw) {
    JsonObject out = new JsonObject();
    for (String field : List.of("routes", "models", "actions")) {
      Object v = raw.getValue(field);
      if (v == null) {
        continue;
      }
      if (!(v instanceof JsonArray array) || !array.stream().allMatch(x -> x instanceof String)) {
        throw BadInput.field("scopes." + field, "must be a list of strings");
      }
      out.put(field, array);
    }
    for (String key : raw.fieldNames()) {
      if (!key.equals("routes") && !key.equals("models") && !key.equals("actions")) {
        throw BadInput.field("scopes." + key, "is not a known scope (routes, models, actions)");
      }
    }
    return out;
  }

  private Future<Reply> listKeys(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return accounts.get(id).compose(account -> accounts.listKeys(account).compose(keys -> {
      List<Future<JsonObject>> rendered = new java.util.ArrayList<>();
      keys.forEach(k -> rendered.add(withSpend(k.toJson(clock.instant()), k, account)));
      return Future.all(rendered).map(all -> {
        JsonArray data = new JsonArray();
        rendered.forEach(f -> data.add(f.result()));
        return new Reply(200, new JsonObject().put("data", data));
      });
    }));
  }

  private Future<Reply> revokeKey(RoutingContext ctx) {
    long keyId = Fields.pathId(ctx.pathParam("keyId"), "key");
    return accounts.revokeKey(keyId, actor(ctx)).map(revoked -> new Reply(200, revoked.toJson(clock.instant())));
  }

  private Future<Reply> rotateKey(RoutingContext ctx) {
    long keyId = Fields.pathId(ctx.pathParam("keyId"), "key");
    JsonObject b = body(ctx);
    Long overlapHours = Fields.nonNegative(b, "overlapHours");
    if (overlapHours != null && overlapHours > MAX_OVERLAP_HOURS) {
      throw BadInput.field("overlapHours", "must be at most " + MAX_OVERLAP_HOURS + " (30 days)");
    }
    Duration overlap = overlapHours == null ? config.metering().keyRotationOverlap() : Duration.ofHours(overlapHours);
    return accounts.rotateKey(keyId, overlap, actor(ctx))
        .map(r -> new Reply(201, r.created().key().toJson(clock.instant()).put("key", r.created().plaintext())
            .put("replaces", new JsonObject().put("id", keyId).put("validUntil", r.retired().expiresAt().toString()))));
  }

  // ---- credits

  private Future<Reply> changeCredits(RoutingContext ctx) {
    JsonObject b = body(ctx);
    long amount = Fields.credits(b, "amount");
    if (amount == 0) {
      throw BadInput.field("amount", "must not be 0");
    }
    String reason = Fields.string(b, "reason", true);
    String idempotencyKey = Fields.string(b, "idempotencyKey", false);
    Actor actor = actor(ctx);
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return accounts.changeCredits(id, amount, reason, idempotencyKey, actor)
        .map(change -> new Reply(200, new JsonObject().put("applied", change.applied()).put("balance", Credits.json(change.balance()))));
  }

  private Future<Reply> credits(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return accounts.get(id).compose(account -> accounts.credits(account, queryInt(ctx, "limit", 50, 1, 500))).map(c -> new Reply(200, new JsonObject().put("spendable", Credits.json(c.hot()))
        .put("ledgerSpendable", Credits.json(c.ledgerSpendable())).put("transactions", new JsonArray(List.copyOf(c.transactions())))));
  }

  private Future<Reply> rebuildBalance(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return accounts.rebuildBalance(id, actor(ctx))
        .map(r -> new Reply(200, new JsonObject().put("balance", Credits.json(r.balance())).put("previous", Credits.json(r.previous()))));
  }

  // ---- audit log

  private void auditLog(RoutingContext ctx) {
    AuditLog.Filter filter;
    int limit;
    long before;
    try {
      filter = new AuditLog.Filter(ctx.queryParams().get("actor"), ctx.queryParams().get("action"),
          ctx.queryParams().get("resourceType"), ctx.queryParams().get("resourceId"), queryInstant(ctx, "from"), queryInstant(ctx, "to"));
      limit = queryInt(ctx, "limit", 100, 1, 1000);
      before = ctx.queryParams().contains("before") ? Fields.pathId(ctx.queryParams().get("before"), "audit entry") : Long.MAX_VALUE;
    } catch (BadInput e) {
      fail(ctx, e);
      return;
    }
    boolean csv = "text/csv".equals(ctx.request().getHeader("accept")) || "csv".equals(ctx.queryParams().get("format"));
    audit.list(filter, before, limit).onSuccess(rows -> {
      if (csv) {
        ctx.response().putHeader("content-type", "text/csv; charset=utf-8")
            .putHeader("content-disposition", "attachment; filename=\"audit-log.csv\"").end(Csv.auditLog(rows));
      } else {
        JsonObject out = new JsonObject().put("data", new JsonArray(List.copyOf(rows)));
        if (rows.size() == limit) {
          out.put("nextBefore", rows.get(rows.size() - 1).getLong("id"));
        }
        ctx.json(out);
      }
    }).onFailure(err -> fail(ctx, err));
  }

  static int queryInt(RoutingContext ctx, String name, int fallback, int min, int max) {
    String raw = ctx.queryParams().get(name);
    if (raw == null) {
      return fallback;
    }
    try {
      int v = Integer.parseInt(raw);
      if (v >= min && v <= max) {
        return v;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw new BadInput(400, "invalid-request", "query parameter '" + name + "' must be an integer " + min + "-" + max);
  }

  /** An optional positive integer id in the query string; 400 naming the parameter otherwise. */
  static Long queryId(RoutingContext ctx, String name) {
    String raw = ctx.queryParams().get(name);
    if (raw == null) {
      return null;
    }
    try {
      long v = Long.parseLong(raw);
      if (v > 0) {
        return v;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw new BadInput(400, "invalid-request", "query parameter '" + name + "' must be a positive integer");
  }

  static Instant queryInstant(RoutingContext ctx, String name) {
    String raw = ctx.queryParams().get(name);
    if (raw == null) {
      return null;
    }
    try {
      return Instant.parse(raw);
    } catch (DateTimeParseException e) {
      throw new BadInput(400, "invalid-request", "query parameter '" + name + "' must be an RFC 3339 timestamp");
    }
  }
}
