package io.tollgate.gateway;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.UUID;

/**
 * Stripe event payloads shaped as Stripe sends them (API 2025+: periods on subscription items,
 * an invoice's subscription under {@code parent.subscription_details}, line prices under
 * {@code pricing.price_details}), with the fields Tollgate reads and the usual ones around them.
 */
final class StripeObjects {

  private StripeObjects() {
  }

  static String id(String prefix) {
    return prefix + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
  }

  static JsonObject event(String type, Instant created, JsonObject object) {
    return event(type, created, object, null);
  }

  static JsonObject event(String type, Instant created, JsonObject object, JsonObject previous) {
    JsonObject data = new JsonObject().put("object", object);
    if (previous != null) {
      data.put("previous_attributes", previous);
    }
    return new JsonObject().put("id", id("evt_")).put("object", "event").put("api_version", "2025-06-30.basil")
        .put("created", created.getEpochSecond()).put("data", data).put("livemode", false).put("pending_webhooks", 1)
        .put("request", new JsonObject().put("id", id("req_")).put("idempotency_key", UUID.randomUUID().toString()))
        .put("type", type);
  }

  static JsonObject price(String id, boolean metered) {
    return new JsonObject().put("id", id).put("object", "price").put("active", true).put("currency", "usd")
        .put("product", "prod_" + id.substring(6)).put("type", "recurring").put("livemode", false)
        .put("recurring", new JsonObject().put("interval", "month").put("interval_count", 1)
            .put("usage_type", metered ? "metered" : "licensed"))
        .put("unit_amount", metered ? null : 2000);
  }

  static JsonObject subscription(String id, String customer, Long accountId, String status, Instant periodStart, Instant periodEnd,
                                 String... prices) {
    JsonArray items = new JsonArray();
    for (int i = 0; i < prices.length; i++) {
      JsonObject item = new JsonObject().put("id", id("si_")).put("object", "subscription_item").put("subscription", id)
          .put("price", price(prices[i], i > 0)).put("current_period_start", periodStart.getEpochSecond())
          .put("current_period_end", periodEnd.getEpochSecond()).put("created", periodStart.getEpochSecond());
      if (i == 0) {
        item.put("quantity", 1);
      }
      items.add(item);
    }
    JsonObject metadata = new JsonObject();
    if (accountId != null) {
      metadata.put("tollgate_account_id", Long.toString(accountId)).put("tollgate_plan", "pro");
    }
    return new JsonObject().put("id", id).put("object", "subscription").put("customer", customer).put("status", status)
        .put("cancel_at_period_end", false).put("canceled_at", null).put("collection_method", "charge_automatically")
        .put("created", periodStart.getEpochSecond()).put("currency", "usd").put("livemode", false).put("metadata", metadata)
        .put("trial_end", null).put("trial_start", null)
        .put("items", new JsonObject().put("object", "list").put("data", items).put("has_more", false)
            .put("url", "/v1/subscription_items?subscription=" + id));
  }

  static JsonObject invoice(String id, String customer, String subscription, String status, String reason, long amount,
                            String price, Instant periodStart, Instant periodEnd) {
    JsonObject line = new JsonObject().put("id", id("il_")).put("object", "line_item").put("amount", amount).put("currency", "usd")
        .put("description", "1 × Pro (at $20.00 / month)").put("quantity", 1)
        .put("period", new JsonObject().put("start", periodStart.getEpochSecond()).put("end", periodEnd.getEpochSecond()))
        .put("pricing", new JsonObject().put("type", "price_details")
            .put("price_details", new JsonObject().put("price", price).put("product", "prod_" + price.substring(6))));
    boolean paid = "paid".equals(status);
    return new JsonObject().put("id", id).put("object", "invoice").put("customer", customer).put("status", status)
        .put("billing_reason", reason).put("amount_due", amount).put("amount_paid", paid ? amount : 0)
        .put("amount_remaining", paid ? 0 : amount).put("currency", "usd").put("attempt_count", 1).put("attempted", true)
        .put("collection_method", "charge_automatically").put("created", periodStart.getEpochSecond())
        .put("hosted_invoice_url", "https://invoice.stripe.com/i/acct_test/" + id)
        .put("invoice_pdf", "https://pay.stripe.com/invoice/acct_test/" + id + "/pdf").put("livemode", false)
        .put("period_start", periodStart.getEpochSecond()).put("period_end", periodStart.getEpochSecond())
        .put("parent", new JsonObject().put("type", "subscription_details")
            .put("subscription_details", new JsonObject().put("subscription", subscription).put("metadata", new JsonObject())))
        .put("lines", new JsonObject().put("object", "list").put("data", new JsonArray().add(line)).put("has_more", false));
  }

  static JsonObject checkoutPayment(String id, long accountId, String customer, String pack, long credits, String paymentStatus) {
    return new JsonObject().put("id", id).put("object", "checkout.session").put("mode", "payment").put("status", "complete")
        .put("payment_status", paymentStatus).put("client_reference_id", Long.toString(accountId)).put("customer", customer)
        .put("amount_total", 500).put("currency", "usd").put("payment_intent", id("pi_")).put("livemode", false)
        .put("metadata", new JsonObject().put("tollgate_kind", "credit_pack").put("tollgate_pack", pack)
            .put("tollgate_credits", Long.toString(credits)).put("tollgate_account_id", Long.toString(accountId)))
        .put("url", null);
  }

  static JsonObject checkoutSubscription(String id, long accountId, String customer, String subscription) {
    return new JsonObject().put("id", id).put("object", "checkout.session").put("mode", "subscription").put("status", "complete")
        .put("payment_status", "paid").put("client_reference_id", Long.toString(accountId)).put("customer", customer)
        .put("subscription", subscription).put("amount_total", 2000).put("currency", "usd").put("livemode", false)
        .put("metadata", new JsonObject().put("tollgate_kind", "subscription").put("tollgate_plan", "pro")
            .put("tollgate_account_id", Long.toString(accountId)));
  }

  static JsonObject customer(String id, String email, String defaultPaymentMethod) {
    return new JsonObject().put("id", id).put("object", "customer").put("email", email).put("name", "Test customer")
        .put("livemode", false).put("metadata", new JsonObject())
        .put("invoice_settings", new JsonObject().put("default_payment_method", defaultPaymentMethod).put("custom_fields", null));
  }

  static JsonObject paymentMethod(String id, String customer) {
    return new JsonObject().put("id", id).put("object", "payment_method").put("type", "card").put("customer", customer)
        .put("card", new JsonObject().put("brand", "visa").put("last4", "4242").put("exp_month", 12).put("exp_year", 2030))
        .put("livemode", false);
  }

  static JsonObject meterErrorReport(String meter, int errors) {
    return new JsonObject().put("object", "billing.meter_error_report").put("livemode", false)
        .put("meter", new JsonObject().put("id", meter).put("object", "billing.meter").put("event_name", "tollgate_credits"))
        .put("reason", new JsonObject().put("error_count", errors).put("error_types", new JsonArray()
            .add(new JsonObject().put("code", "no_meter").put("error_count", errors)
                .put("sample_errors", new JsonArray().add(new JsonObject().put("error_message", "No meter found"))))))
        .put("summary", "There were " + errors + " invalid events")
        .put("validation_start", Instant.now().minusSeconds(3600).getEpochSecond()).put("validation_end", Instant.now().getEpochSecond());
  }
}
