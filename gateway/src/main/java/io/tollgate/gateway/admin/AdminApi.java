package io.tollgate.gateway.admin;

import io.tollgate.config.PlanConfig;
import io.tollgate.gateway.Services;
import io.tollgate.gateway.ops.Problems;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStore.NewAccount;
import io.tollgate.metering.audit.AuditLog;
import io.tollgate.metering.keys.ApiKey;
import io.tollgate.metering.keys.ApiKeyFormat;
import io.tollgate.metering.keys.ApiKeyStore;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.sqlclient.SqlConnection;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * The admin API under {@code /admin/v1}: accounts, API keys, credits and the audit log. Every
 * mutation and its audit row share one transaction; Redis (balances, key caches) is updated
 * after the commit, and is rebuildable from Postgres if that step fails.
 */
public final class AdminApi {

  private static final Set<String> BILLING_MODES = Set.of("prepaid", "postpaid", "hybrid");
  private static final Set<String> STATUSES = Set.of("active", "trialing", "past_due", "suspended", "canceled");

  private final Services m;

  public AdminApi(Services m) {
    this.m = m;
  }

  public void mount(Router router) {
    router.route("/admin/v1/*").handler(BodyHandler.create().setBodyLimit(64 * 1024));
    router.post("/admin/v1/accounts").handler(json(this::createAccount));
    router.get("/admin/v1/accounts").handler(json(this::listAccounts));
    router.get("/admin/v1/accounts/:id").handler(json(this::getAccount));
    router.patch("/admin/v1/accounts/:id").handler(json(this::updateAccount));
    router.post("/admin/v1/accounts/:id/keys").handler(json(this::createKey));
    router.get("/admin/v1/accounts/:id/keys").handler(json(this::listKeys));
    router.post("/admin/v1/keys/:keyId/revoke").handler(json(this::revokeKey));
    router.post("/admin/v1/keys/:keyId/rotate").handler(json(this::rotateKey));
    router.post("/admin/v1/accounts/:id/credits").handler(json(this::changeCredits));
    router.get("/admin/v1/accounts/:id/credits").handler(json(this::credits));
    router.post("/admin/v1/accounts/:id/credits/rebuild").handler(json(this::rebuildBalance));
    router.get("/admin/v1/audit-log").handler(this::auditLog);
    new UsageApi(m).mount(router);
    new NotificationsApi(m).mount(router);
    new StripeApi(m).mount(router);
    new BillingApi(m).mount(router);
    new PlansApi(m).mount(router);
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
    } else if (err instanceof io.vertx.pgclient.PgException pg && "23505".equals(pg.getSqlState())) {
      Problems.send(ctx, 409, "conflict", "Conflict", "a resource with the same unique value already exists");
    } else {
      ctx.fail(err);
    }
  }

  static JsonObject body(RoutingContext ctx) {
    try {
      JsonObject body = ctx.body().asJsonObject();
      return body == null ? new JsonObject() : body;
    } catch (DecodeException | ClassCastException e) {
      throw new BadInput(400, "invalid-json", "request body is not a JSON object");
    }
  }

  static String actor(RoutingContext ctx) {
    String actor = ctx.request().getHeader("x-tollgate-actor");
    return actor == null || actor.isBlank() ? "admin-token" : actor.substring(0, Math.min(actor.length(), 200));
  }

  static String ip(RoutingContext ctx) {
    return ctx.request().remoteAddress() == null ? null : ctx.request().remoteAddress().hostAddress();
  }

  // ---- accounts

  private Future<Reply> createAccount(RoutingContext ctx) {
    JsonObject b = body(ctx);
    JsonObject limits = Fields.object(b, "limits");
    String plan = Fields.string(b, "plan", false);
    if (plan != null && !m.config().plans().containsKey(plan)) {
      throw BadInput.field("plan", "must be a configured plan: " + String.join(", ", m.config().plans().keySet()));
    }
    NewAccount account = new NewAccount(Fields.string(b, "name", true), plan == null ? "free" : plan,
        Fields.oneOf(b, "billingMode", BILLING_MODES, "prepaid"), Fields.nonNegative(b, "spendCap"),
        Fields.nonNegative(limits, "requestsPerMinute"), Fields.nonNegative(limits, "tokensPerMinute"),
        webhookUrl(b));
    long initialCredits = Optional.ofNullable(Fields.nonNegative(b, "initialCredits")).orElse(0L);
    String actor = actor(ctx);
    return m.pool().withTransaction(conn -> m.accounts().create(conn, account).compose(created -> {
      PlanConfig planConfig = m.config().plan(created.plan());
      Future<Boolean> grants = Future.succeededFuture(true);
      if (!"postpaid".equals(created.billingMode()) && planConfig.includedCredits() > 0) {
        grants = m.ledger().record(conn, created.id(), planConfig.includedCredits(), "period_grant",
            "plan " + created.plan() + " included credits",
            io.tollgate.metering.periods.PeriodRollover.periodGrantKey(created.id(), created.periodStart()), actor);
      }
      if (initialCredits > 0) {
        grants = grants.compose(v -> m.ledger().record(conn, created.id(), initialCredits, "grant", "initial credits", null, actor));
      }
      return grants.compose(v -> m.audit().record(conn, actor, "account.create", "account", Long.toString(created.id()), ip(ctx),
          null, created.toJson())).map(created);
    })).compose(created -> m.balances().seed(created).map(created))
        .compose(this::withCredits).map(json -> new Reply(201, json));
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
    PlanConfig plan = m.config().plan(account.plan());
    return m.balances().spendable(account).map(spendable -> account.toJson()
            .put("credits", new JsonObject().put("spendable", spendable).put("enforced", account.enforcesCredits()))
            .put("planLimits", new JsonObject().put("requestsPerMinute", plan.requestsPerMinute())
                .put("tokensPerMinute", plan.tokensPerMinute()).put("includedCredits", plan.includedCredits())));
  }

  private Future<Account> account(SqlConnection conn, RoutingContext ctx, boolean forUpdate) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return (forUpdate ? m.accounts().getForUpdate(conn, id) : m.accounts().get(conn, id))
        .map(found -> found.orElseThrow(() -> BadInput.notFound("account " + id)));
  }

  private Future<Reply> getAccount(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return m.accounts().get(m.pool(), id).map(found -> found.orElseThrow(() -> BadInput.notFound("account " + id)))
        .compose(this::withCredits).map(json -> new Reply(200, json));
  }

  private Future<Reply> listAccounts(RoutingContext ctx) {
    int limit = queryInt(ctx, "limit", 50, 1, 500);
    long after = queryInt(ctx, "after", 0, 0, Integer.MAX_VALUE);
    return m.accounts().page(m.pool(), after, limit).map(page -> {
      JsonArray data = new JsonArray();
      page.forEach(a -> data.add(a.toJson()));
      JsonObject out = new JsonObject().put("data", data);
      if (page.size() == limit) {
        out.put("nextAfter", page.get(page.size() - 1).id());
      }
      return new Reply(200, out);
    });
  }

  private Future<Reply> updateAccount(RoutingContext ctx) {
    JsonObject b = body(ctx);
    String actor = actor(ctx);
    return m.pool().withTransaction(conn -> account(conn, ctx, true).compose(before -> {
      JsonObject limits = b.containsKey("limits") ? Fields.object(b, "limits") : null;
      JsonObject alerts = b.containsKey("alerts") ? Fields.object(b, "alerts") : null;
      String plan = b.containsKey("plan") ? Fields.string(b, "plan", true) : before.plan();
      if (!m.config().plans().containsKey(plan)) {
        throw BadInput.field("plan", "must be a configured plan: " + String.join(", ", m.config().plans().keySet()));
      }
      Account after = new Account(before.id(),
          b.containsKey("name") ? Fields.string(b, "name", true) : before.name(), plan,
          b.containsKey("billingMode") ? Fields.oneOf(b, "billingMode", BILLING_MODES, before.billingMode()) : before.billingMode(),
          b.containsKey("status") ? Fields.oneOf(b, "status", STATUSES, before.status()) : before.status(),
          b.containsKey("stripeCustomerId") ? stripeCustomer(b) : before.stripeCustomerId(),
          b.containsKey("spendCap") ? Fields.nonNegative(b, "spendCap") : before.spendCap(),
          limits != null && limits.containsKey("requestsPerMinute") ? Fields.nonNegative(limits, "requestsPerMinute") : before.requestsPerMinute(),
          limits != null && limits.containsKey("tokensPerMinute") ? Fields.nonNegative(limits, "tokensPerMinute") : before.tokensPerMinute(),
          b.containsKey("alertWebhookUrl") ? webhookUrl(b) : before.alertWebhookUrl(),
          before.shard(), before.periodStart(), before.periodEnd(), before.createdAt(), before.updatedAt(),
          alerts != null && alerts.containsKey("thresholds") ? thresholds(alerts) : before.alertThresholds(),
          alerts != null && alerts.containsKey("lowBalanceCredits") ? Fields.nonNegative(alerts, "lowBalanceCredits")
              : before.lowBalanceCredits());
      return m.accounts().update(conn, after).compose(updated -> m.audit().record(conn, actor, "account.update", "account",
          Long.toString(updated.id()), ip(ctx), before.toJson(), updated.toJson()).map(updated));
    })).compose(updated -> m.keyEvents().announceAccountChange().map(updated))
        .compose(this::withCredits).map(json -> new Reply(200, json));
  }

  // ---- keys

  private Future<Reply> createKey(RoutingContext ctx) {
    JsonObject b = body(ctx);
    JsonObject limits = Fields.object(b, "limits");
    JsonObject scopes = scopes(Fields.object(b, "scopes"));
    String environment = Fields.oneOf(b, "environment", Set.of("live", "test"), "live");
    Instant expiresAt = Fields.instant(b, "expiresAt");
    if (expiresAt != null && !expiresAt.isAfter(m.clock().instant())) {
      throw BadInput.field("expiresAt", "must be in the future");
    }
    String actor = actor(ctx);
    return m.pool().withTransaction(conn -> account(conn, ctx, false).compose(account -> m.keys().create(conn, account.id(),
            environment.equals("live") ? ApiKeyFormat.LIVE : ApiKeyFormat.TEST, Fields.string(b, "name", false), scopes,
            Fields.nonNegative(limits, "requestsPerMinute"), Fields.nonNegative(limits, "tokensPerMinute"), expiresAt))
        .compose(created -> m.audit().record(conn, actor, "key.create", "api_key", Long.toString(created.key().id()), ip(ctx),
            null, created.key().toJson(m.clock().instant())).map(created)))
        .map(created -> new Reply(201, created.key().toJson(m.clock().instant()).put("key", created.plaintext())));
  }

  private static JsonObject scopes(JsonObject raw) {
    JsonObject out = new JsonObject();
    for (String field : List.of("routes", "models")) {
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
      if (!key.equals("routes") && !key.equals("models")) {
        throw BadInput.field("scopes." + key, "is not a known scope (routes, models)");
      }
    }
    return out;
  }

  private Future<Reply> listKeys(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return m.accounts().get(m.pool(), id).compose(found -> {
      if (found.isEmpty()) {
        throw BadInput.notFound("account " + id);
      }
      return m.keys().listForAccount(m.pool(), id);
    }).map(keys -> {
      JsonArray data = new JsonArray();
      keys.forEach(k -> data.add(k.toJson(m.clock().instant())));
      return new Reply(200, new JsonObject().put("data", data));
    });
  }

  private Future<Reply> revokeKey(RoutingContext ctx) {
    long keyId = Fields.pathId(ctx.pathParam("keyId"), "key");
    String actor = actor(ctx);
    return m.pool().withTransaction(conn -> m.keys().get(conn, keyId).compose(before -> {
      ApiKeyStore.WithHash old = before.orElseThrow(() -> BadInput.notFound("key " + keyId));
      return m.keys().revoke(conn, keyId).compose(after -> m.audit().record(conn, actor, "key.revoke", "api_key",
          Long.toString(keyId), ip(ctx), old.key().toJson(m.clock().instant()), after.orElseThrow().key().toJson(m.clock().instant())).map(after.get()));
    })).compose(revoked -> m.keyEvents().announceRevocation(revoked.hash()).map(revoked))
        .map(revoked -> new Reply(200, revoked.key().toJson(m.clock().instant())));
  }

  private Future<Reply> rotateKey(RoutingContext ctx) {
    long keyId = Fields.pathId(ctx.pathParam("keyId"), "key");
    JsonObject b = body(ctx);
    Long overlapHours = Fields.nonNegative(b, "overlapHours");
    Duration overlap = overlapHours == null ? m.config().metering().keyRotationOverlap() : Duration.ofHours(overlapHours);
    String actor = actor(ctx);
    return m.pool().withTransaction(conn -> m.keys().get(conn, keyId).compose(found -> {
      ApiKey old = found.orElseThrow(() -> BadInput.notFound("key " + keyId)).key();
      if (old.revokedAt() != null) {
        throw new BadInput(409, "conflict", "key " + keyId + " is revoked and cannot be rotated");
      }
      return m.keys().create(conn, old.accountId(), old.prefix(), old.name(), old.scopes(), old.requestsPerMinute(),
              old.tokensPerMinute(), old.expiresAt())
          .compose(created -> m.keys().retire(conn, keyId, m.clock().instant().plus(overlap), created.key().id())
              .compose(retired -> m.audit().record(conn, actor, "key.rotate", "api_key", Long.toString(keyId), ip(ctx),
                  old.toJson(m.clock().instant()), retired.key().toJson(m.clock().instant()).put("replacedBy", created.key().id())).map(v -> Map2.of(created, retired))));
    })).compose(pair -> m.keyEvents().announceRevocation(pair.retired().hash()).map(pair))
        .map(pair -> new Reply(201, pair.created().key().toJson(m.clock().instant()).put("key", pair.created().plaintext())
            .put("replaces", new JsonObject().put("id", keyId).put("validUntil", pair.retired().key().expiresAt().toString()))));
  }

  private record Map2(ApiKeyStore.Created created, ApiKeyStore.WithHash retired) {
    static Map2 of(ApiKeyStore.Created c, ApiKeyStore.WithHash r) {
      return new Map2(c, r);
    }
  }

  // ---- credits

  private Future<Reply> changeCredits(RoutingContext ctx) {
    JsonObject b = body(ctx);
    long amount = Fields.integer(b, "amount");
    if (amount == 0) {
      throw BadInput.field("amount", "must not be 0");
    }
    String reason = Fields.string(b, "reason", true);
    String idempotencyKey = Fields.string(b, "idempotencyKey", false);
    String actor = actor(ctx);
    return m.pool().withTransaction(conn -> account(conn, ctx, true).compose(account -> m.ledger()
        .record(conn, account.id(), amount, amount > 0 ? "grant" : "adjustment", reason,
            idempotencyKey == null ? null : "admin:" + account.id() + ":" + idempotencyKey, actor)
        .compose(applied -> !applied ? Future.succeededFuture(new Applied(account, false))
            : m.audit().record(conn, actor, amount > 0 ? "credits.grant" : "credits.adjust", "account", Long.toString(account.id()),
                ip(ctx), null, new JsonObject().put("amount", amount).put("reason", reason)).map(new Applied(account, true)))))
        .compose(applied -> {
          if (!applied.changed()) {
            return m.admissions().balance(applied.account().id()).map(balance -> new Reply(200,
                new JsonObject().put("applied", false).put("balance", balance.orElse(null))));
          }
          // Committed in Postgres; now the hot copy. If the account was never loaded, seed it from the ledger.
          return m.admissions().addCreditsIfLoaded(applied.account().id(), amount)
              .compose(hot -> hot.isPresent() ? Future.succeededFuture(hot.get())
                  : m.balances().seed(applied.account()).compose(v -> m.admissions().balance(applied.account().id()).map(x -> x.orElse(0L))))
              .map(balance -> new Reply(200, new JsonObject().put("applied", true).put("balance", balance)));
        });
  }

  private record Applied(Account account, boolean changed) {
  }

  private Future<Reply> credits(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    return m.accounts().get(m.pool(), id).map(found -> found.orElseThrow(() -> BadInput.notFound("account " + id)))
        .compose(account -> m.ledger().recent(m.pool(), id, queryInt(ctx, "limit", 50, 1, 500))
            .compose(rows -> m.admissions().balance(id).compose(hot -> m.ledger().spendable(m.pool(), account)
                .map(ledger -> new Reply(200, new JsonObject().put("spendable", hot.orElse(null)).put("ledgerSpendable", ledger)
                    .put("transactions", new JsonArray(List.copyOf(rows))))))));
  }

  private Future<Reply> rebuildBalance(RoutingContext ctx) {
    long id = Fields.pathId(ctx.pathParam("id"), "account");
    String actor = actor(ctx);
    return m.accounts().get(m.pool(), id).map(found -> found.orElseThrow(() -> BadInput.notFound("account " + id)))
        .compose(account -> m.admissions().balance(id).compose(before -> m.ledger().spendable(m.pool(), account)
            .compose(balance -> m.admissions().setBalance(id, balance)
                .compose(v -> m.audit().record(m.pool(), actor, "credits.rebuild", "account", Long.toString(id), ip(ctx),
                    new JsonObject().put("balance", before.orElse(null)), new JsonObject().put("balance", balance)))
                .map(v -> new Reply(200, new JsonObject().put("balance", balance).put("previous", before.orElse(null)))))));
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
    m.audit().list(m.pool(), filter, before, limit).onSuccess(rows -> {
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
