package io.tollgate.metering.keys;

import io.vertx.core.json.JsonObject;
import java.time.Instant;

/**
 * A key's credit budget: at most {@code credits} (units: millicredits) per billing period of its account ({@code period})
 * or over its life ({@code lifetime}). Its spend is counted under {@code spendKeyId}: the key
 * itself, or the key it was rotated from (a rotation continues the spend, never resets it).
 */
public record KeyBudget(long credits, String period, long spendKeyId) {

  public static final String PERIOD = "period";
  public static final String LIFETIME = "lifetime";

  static KeyBudget from(Long credits, String period, long spendKeyId) {
    return credits == null || period == null ? null : new KeyBudget(credits, period, spendKeyId);
  }

  /**
   * The window the spend is counted in: {@code life}, or {@code p<epoch seconds>} of the account's
   * current period start (a new period counts from zero).
   */
  public String window(Instant accountPeriodStart) {
    return LIFETIME.equals(period) ? "life" : "p" + accountPeriodStart.getEpochSecond();
  }

  /** Where the window's spend starts: the epoch for a lifetime budget, else the period start. */
  public Instant since(Instant accountPeriodStart) {
    return LIFETIME.equals(period) ? Instant.EPOCH : accountPeriodStart;
  }

  public JsonObject toJson() {
    return new JsonObject().put("credits", io.tollgate.config.Credits.json(credits)).put("period", period);
  }
}
