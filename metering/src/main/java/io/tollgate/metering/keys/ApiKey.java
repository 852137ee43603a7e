package io.tollgate.metering.keys;

import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.time.Instant;
import java.time.OffsetDateTime;

/** An API key as stored — never the key itself: prefix, last 4 characters and metadata. */
public record ApiKey(long id, long accountId, String prefix, String last4, String name, JsonObject scopes,
                     Long requestsPerMinute, Long tokensPerMinute, Instant createdAt, Instant expiresAt,
                     Instant lastUsedAt, Instant revokedAt, Long replacedBy, KeyBudget budget) {

  static final String COLUMNS = "id, account_id, prefix, last4, name, scopes, requests_per_minute, tokens_per_minute, "
      + "created_at, expires_at, last_used_at, revoked_at, replaced_by, budget_credits, budget_period, budget_of";

  static ApiKey from(Row r) {
    Object scopes = r.getValue("scopes");
    return new ApiKey(r.getLong("id"), r.getLong("account_id"), r.getString("prefix"), r.getString("last4"),
        r.getString("name"), scopes instanceof JsonObject j ? j : new JsonObject(), r.getLong("requests_per_minute"),
        r.getLong("tokens_per_minute"), at(r, "created_at"), at(r, "expires_at"), at(r, "last_used_at"),
        at(r, "revoked_at"), r.getLong("replaced_by"), KeyBudget.from(r.getLong("budget_credits"), r.getString("budget_period"),
            r.getLong("budget_of") != null ? r.getLong("budget_of") : r.getLong("id")));
  }

  private static Instant at(Row r, String c) {
    OffsetDateTime t = r.getOffsetDateTime(c);
    return t == null ? null : t.toInstant();
  }

  /** The listing form at {@code now}: the key masked as {@code tg_live_…abcd}, and whether it is live. */
  public JsonObject toJson(Instant now) {
    return new JsonObject().put("id", id).put("accountId", accountId).put("prefix", prefix)
        .put("masked", prefix + "…" + last4).put("name", name).put("scopes", scopes)
        .put("limits", new JsonObject().put("requestsPerMinute", requestsPerMinute).put("tokensPerMinute", tokensPerMinute))
        .put("createdAt", s(createdAt)).put("expiresAt", s(expiresAt)).put("lastUsedAt", s(lastUsedAt))
        .put("revokedAt", s(revokedAt)).put("replacedBy", replacedBy).put("budget", budget == null ? null : budget.toJson())
        .put("status", revokedAt != null ? "revoked" : expiresAt != null && !expiresAt.isAfter(now) ? "expired" : "active");
  }

  private static String s(Instant i) {
    return i == null ? null : i.toString();
  }
}
