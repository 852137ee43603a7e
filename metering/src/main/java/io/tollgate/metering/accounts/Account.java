package io.tollgate.metering.accounts;

import io.tollgate.config.Credits;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import java.time.Instant;
import java.util.List;
import java.time.OffsetDateTime;

/**
 * An account as stored. Limits and spend cap are nullable overrides of the plan's values. Spend cap
 * and low-balance threshold are units ({@link Credits}); {@link #toJson} shows them as credits.
 * Spendable credits are enforced when the account is prepaid/hybrid, or postpaid with a cap.
 */
public record Account(long id, String name, String plan, String billingMode, String status, String stripeCustomerId,
                      Long spendCap, Long requestsPerMinute, Long tokensPerMinute, String alertWebhookUrl, int shard,
                      Instant periodStart, Instant periodEnd, Instant createdAt, Instant updatedAt,
                      List<Integer> alertThresholds, Long lowBalanceCredits, Instant trialEndsAt) {

  public static final String COLUMNS = "id, name, plan, billing_mode, status, stripe_customer_id, spend_cap, requests_per_minute, "
      + "tokens_per_minute, alert_webhook_url, usage_shard, period_start, period_end, created_at, updated_at, "
      + "alert_thresholds, low_balance_credits, trial_ends_at";

  public static Account from(Row r) {
    return new Account(r.getLong("id"), r.getString("name"), r.getString("plan"), r.getString("billing_mode"),
        r.getString("status"), r.getString("stripe_customer_id"), r.getLong("spend_cap"), r.getLong("requests_per_minute"),
        r.getLong("tokens_per_minute"), r.getString("alert_webhook_url"), r.getShort("usage_shard"),
        instant(r, "period_start"), instant(r, "period_end"), instant(r, "created_at"), instant(r, "updated_at"),
        thresholds(r.getArrayOfIntegers("alert_thresholds")), r.getLong("low_balance_credits"),
        instant(r, "trial_ends_at"));
  }

  private static List<Integer> thresholds(Integer[] raw) {
    return raw == null ? null : List.of(raw);
  }

  static Instant instant(Row r, String column) {
    OffsetDateTime t = r.getOffsetDateTime(column);
    return t == null ? null : t.toInstant();
  }

  /** A plan and status set by billing (Stripe or the end of a trial): any local trial ends with it. */
  public Account withPlanAndStatus(String newPlan, String newStatus) {
    return new Account(id, name, newPlan, billingMode, newStatus, stripeCustomerId, spendCap, requestsPerMinute, tokensPerMinute,
        alertWebhookUrl, shard, periodStart, periodEnd, createdAt, updatedAt, alertThresholds, lowBalanceCredits, null);
  }

  /** On {@code plan} with status {@code trialing} until {@code endsAt}: a local trial. */
  public Account withLocalTrial(String trialPlan, Instant endsAt) {
    return new Account(id, name, trialPlan, billingMode, AccountStatus.TRIALING.dbValue(), stripeCustomerId, spendCap, requestsPerMinute,
        tokensPerMinute, alertWebhookUrl, shard, periodStart, periodEnd, createdAt, updatedAt, alertThresholds, lowBalanceCredits, endsAt);
  }

  public Account withPeriod(Instant start, Instant end) {
    return new Account(id, name, plan, billingMode, status, stripeCustomerId, spendCap, requestsPerMinute, tokensPerMinute,
        alertWebhookUrl, shard, start, end, createdAt, updatedAt, alertThresholds, lowBalanceCredits, trialEndsAt);
  }

  public boolean enforcesCredits() {
    return !"postpaid".equals(billingMode) || spendCap != null;
  }

  public JsonObject toJson() {
    return new JsonObject().put("id", id).put("name", name).put("plan", plan).put("billingMode", billingMode)
        .put("status", status).put("stripeCustomerId", stripeCustomerId).put("spendCap", Credits.json(spendCap))
        .put("limits", new JsonObject().put("requestsPerMinute", requestsPerMinute).put("tokensPerMinute", tokensPerMinute))
        .put("alertWebhookUrl", alertWebhookUrl)
        .put("alerts", new JsonObject().put("thresholds", alertThresholds == null ? null : new io.vertx.core.json.JsonArray(alertThresholds))
            .put("lowBalanceCredits", Credits.json(lowBalanceCredits)))
        .put("period", new JsonObject().put("start", str(periodStart)).put("end", str(periodEnd)))
        .put("trialEndsAt", str(trialEndsAt)).put("createdAt", str(createdAt)).put("updatedAt", str(updatedAt));
  }

  private static String str(Instant i) {
    return i == null ? null : i.toString();
  }
}
