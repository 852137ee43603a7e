package io.tollgate.gateway.admin;

import io.tollgate.stripesync.billing.CheckoutRequest;
import io.vertx.core.json.JsonObject;

/**
 * The free trial a Checkout request asks for: {@code trial: {days, withoutCard, onMissingPaymentMethod}}, or the
 * older {@code trialDays} (a trial for which Checkout collects a card). {@code days} defaults to
 * {@code billing.trialDays}; a trial without a card must say what Stripe does when it ends without one.
 */
final class CheckoutTrial {

  private CheckoutTrial() {
  }

  /** The requested trial, or {@code null} when the request asks for none. */
  static CheckoutRequest.Trial parse(JsonObject body, int defaultDays) {
    Long trialDays = Fields.nonNegative(body, "trialDays");
    Object raw = body.getValue("trial");
    if (raw == null) {
      return trialDays == null ? null : CheckoutRequest.Trial.withCard(days("trialDays", trialDays));
    }
    if (trialDays != null) {
      throw BadInput.field("trialDays", "must not be given with 'trial' (put the length in trial.days)");
    }
    if (!(raw instanceof JsonObject trial)) {
      throw BadInput.field("trial", "must be an object: {days, withoutCard, onMissingPaymentMethod}");
    }
    for (String name : trial.fieldNames()) {
      if (!name.equals("days") && !name.equals("withoutCard") && !name.equals("onMissingPaymentMethod")) {
        throw BadInput.field("trial", "has an unknown field (allowed: days, withoutCard, onMissingPaymentMethod)");
      }
    }
    Object d = trial.getValue("days");
    int days;
    if (d == null) {
      days = defaultDays;
    } else if (d instanceof Number n && n.doubleValue() == n.longValue()) {
      days = days("trial.days", n.longValue());
    } else {
      throw BadInput.field("trial.days", "must be an integer from 1 to 730");
    }
    Object w = trial.getValue("withoutCard");
    if (w != null && !(w instanceof Boolean)) {
      throw BadInput.field("trial.withoutCard", "must be true or false");
    }
    boolean withoutCard = Boolean.TRUE.equals(w);
    Object m = trial.getValue("onMissingPaymentMethod");
    if (!withoutCard) {
      if (m != null) {
        throw BadInput.field("trial.onMissingPaymentMethod", "applies only to a trial with withoutCard: true");
      }
      return CheckoutRequest.Trial.withCard(days);
    }
    CheckoutRequest.MissingPaymentMethod onMissing;
    if ("cancel".equals(m)) {
      onMissing = CheckoutRequest.MissingPaymentMethod.CANCEL;
    } else if ("pause".equals(m)) {
      onMissing = CheckoutRequest.MissingPaymentMethod.PAUSE;
    } else {
      throw BadInput.field("trial.onMissingPaymentMethod", (m == null ? "is required" : "must be") + " for a trial without a card: "
          + "cancel (the subscription ends with the trial) or pause (it waits for a payment method)");
    }
    return new CheckoutRequest.Trial(days, true, onMissing);
  }

  private static int days(String field, long days) {
    if (days < 1 || days > 730) {
      throw BadInput.field(field, "must be an integer from 1 to 730");
    }
    return (int) days;
  }
}
