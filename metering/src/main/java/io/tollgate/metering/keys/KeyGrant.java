package io.tollgate.metering.keys;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.time.Instant;
import java.time.OffsetDateTime;

/**
 * Everything the hot path needs to know about a presented key, read in one query (key joined
 * with its account) and cached: who it is, its limits and scopes, and whether it still works.
 */
public record KeyGrant(long keyId, long accountId, String plan, String billingMode, String accountStatus, Long spendCap,
                       Long keyRequestsPerMinute, Long keyTokensPerMinute, Long accountRequestsPerMinute,
                       Long accountTokensPerMinute, JsonObject scopes, Instant expiresAt, Instant revokedAt, KeyBudget budget,
                       Instant accountPeriodStart) {

  static final String QUERY = "SELECT k.id AS key_id, k.account_id, a.plan, a.billing_mode, a.status, a.spend_cap, "
      + "k.requests_per_minute AS key_rpm, k.tokens_per_minute AS key_tpm, a.requests_per_minute AS acct_rpm, "
      + "a.tokens_per_minute AS acct_tpm, k.scopes, k.expires_at, k.revoked_at, k.budget_credits, k.budget_period, "
      + "coalesce(k.budget_of, k.id) AS budget_of, a.period_start "
      + "FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.key_hash = $1";

  static KeyGrant from(Row r) {
    Object scopes = r.getValue("scopes");
    return new KeyGrant(r.getLong("key_id"), r.getLong("account_id"), r.getString("plan"), r.getString("billing_mode"),
        r.getString("status"), r.getLong("spend_cap"), r.getLong("key_rpm"), r.getLong("key_tpm"), r.getLong("acct_rpm"),
        r.getLong("acct_tpm"), scopes instanceof JsonObject j ? j : new JsonObject(), at(r, "expires_at"), at(r, "revoked_at"),
        KeyBudget.from(r.getLong("budget_credits"), r.getString("budget_period"), r.getLong("budget_of")), at(r, "period_start"));
  }

  private static Instant at(Row r, String c) {
    OffsetDateTime t = r.getOffsetDateTime(c);
    return t == null ? null : t.toInstant();
  }

  public boolean enforcesCredits() {
    return !"postpaid".equals(billingMode) || spendCap != null;
  }

  public boolean revoked() {
    return revokedAt != null;
  }

  public boolean expiredAt(Instant now) {
    return expiresAt != null && !expiresAt.isAfter(now);
  }

  /** Route prefixes the key may call; empty means all. */
  public boolean allowsRoute(String prefix) {
    JsonArray routes = scopes.getJsonArray("routes");
    return routes == null || routes.isEmpty() || routes.contains(prefix);
  }

  /** Billable actions the key may report through the ingest API; empty means all. */
  public boolean allowsAction(String action) {
    JsonArray actions = scopes.getJsonArray("actions");
    return actions == null || actions.isEmpty() || actions.contains(action);
  }

  /** Whether the key is limited to some models (then a request whose model cannot be read is refused). */
  public boolean restrictsModels() {
    JsonArray models = scopes.getJsonArray("models");
    return models != null && !models.isEmpty();
  }

  /** Models the key may use; empty means all. A request without a model passes. */
  public boolean allowsModel(String model) {
    JsonArray models = scopes.getJsonArray("models");
    return models == null || models.isEmpty() || model == null || models.contains(model);
  }
}
