package io.tollgate.stripesync.fake;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Map;

/**
 * Builders of Stripe objects as the API returns them and as events carry them in
 * {@code data.object}: every field Stripe sends is present (most with Stripe's defaults), ids look
 * like Stripe's, times are Unix seconds, amounts are in cents. Set what a test cares about; the
 * rest stays plausible. {@link Builder#set} reaches any field without a setter of its own.
 *
 * <pre>{@code
 * JsonObject sub = StripeObjects.subscription().customer("cus_1").status("past_due")
 *     .licensedItem("price_pro", 1).metadata("tollgate_account_id", "42").json();
 * JsonObject event = StripeObjects.invoice().customer("cus_1").subscription("sub_1").amountDue(2900).paid()
 *     .paidEvent().id("evt_1").created(Instant.parse("2026-01-01T00:00:00Z")).json();
 * }</pre>
 *
 * <p>Shapes follow the API version stripe-java 33.3 pins (2026-07-29.dahlia), plus the fields older
 * versions had where handlers may still meet them: a subscription's top-level
 * {@code current_period_start/end} (now on its items), an invoice's top-level {@code subscription}
 * (now {@code parent.subscription_details.subscription}) and an invoice line's {@code price}.
 */
public final class StripeObjects {

  private StripeObjects() {
  }

  public static Customer customer() {
    return new Customer();
  }

  public static Price price(String id) {
    return new Price(id);
  }

  public static Subscription subscription() {
    return new Subscription();
  }

  public static Invoice invoice() {
    return new Invoice();
  }

  public static CheckoutSession checkoutSession() {
    return new CheckoutSession();
  }

  public static PaymentMethod paymentMethod() {
    return new PaymentMethod();
  }

  /** A succeeded card charge ({@code ch_}) of 10.00 USD paid through {@code paymentIntentId}. */
  public static Charge charge(String paymentIntentId) {
    return new Charge(paymentIntentId);
  }

  public static PaymentIntent paymentIntent() {
    return new PaymentIntent();
  }

  static long seconds(Instant t) {
    return t.getEpochSecond();
  }

  static Instant plus(Instant t, String interval, long count) {
    return switch (interval) {
      case "day" -> t.plus(count, ChronoUnit.DAYS);
      case "week" -> t.plus(7 * count, ChronoUnit.DAYS);
      case "year" -> t.atZone(ZoneOffset.UTC).plusYears(count).toInstant();
      default -> t.atZone(ZoneOffset.UTC).plusMonths(count).toInstant();
    };
  }

  /** What all builders share: id, created, metadata, any other field, and the event that carries the object. */
  public abstract static class Builder<B extends Builder<B>> {
    final JsonObject json;

    Builder(String object, String id) {
      json = new JsonObject().put("id", id).put("object", object);
    }

    @SuppressWarnings("unchecked")
    final B self() {
      return (B) this;
    }

    public B id(String id) {
      json.put("id", id);
      return self();
    }

    public String id() {
      return json.getString("id");
    }

    public B created(Instant at) {
      json.put("created", seconds(at));
      return self();
    }

    public B metadata(String key, String value) {
      json.getJsonObject("metadata").put(key, value);
      return self();
    }

    public B metadata(Map<String, String> metadata) {
      metadata.forEach(this::metadata);
      return self();
    }

    /** Any field, for what has no setter of its own ({@code null} is written as JSON null). */
    public B set(String field, Object value) {
      json.put(field, value);
      return self();
    }

    /** The object now, as a copy: later changes to the builder do not show in it. */
    public JsonObject json() {
      return json.copy();
    }

    /** An event of this type carrying the object as it is now. */
    public StripeEvents.Event event(String type) {
      return StripeEvents.event(type, json());
    }

    final JsonObject base(Instant created) {
      return json.put("created", seconds(created)).put("livemode", false).put("metadata", new JsonObject());
    }
  }

  /** A customer ({@code cus_}). */
  public static final class Customer extends Builder<Customer> {
    Customer() {
      super("customer", StripeIds.next("cus"));
      base(Instant.now()).put("address", null).put("balance", 0).put("currency", null).put("default_source", null)
          .put("delinquent", false).put("description", null).put("discount", null).put("email", null)
          .put("invoice_prefix", StripeIds.random(8).toUpperCase()).put("invoice_settings", new JsonObject()
              .put("custom_fields", null).put("default_payment_method", null).put("footer", null).put("rendering_options", null))
          .put("name", null).put("next_invoice_sequence", 1).put("phone", null).put("preferred_locales", new JsonArray())
          .put("shipping", null).put("tax_exempt", "none").put("test_clock", null);
    }

    public Customer name(String name) {
      json.put("name", name);
      return this;
    }

    public Customer email(String email) {
      json.put("email", email);
      return this;
    }

    /** {@code invoice_settings.default_payment_method}: the card invoices (and Tollgate's auto top-ups) charge. */
    public Customer defaultPaymentMethod(String paymentMethodId) {
      json.getJsonObject("invoice_settings").put("default_payment_method", paymentMethodId);
      return this;
    }

    public StripeEvents.Event createdEvent() {
      return event("customer.created");
    }

    /** {@code customer.updated}; {@code previous} holds the changed fields' old values, as Stripe sends them. */
    public StripeEvents.Event updatedEvent(JsonObject previous) {
      return event("customer.updated").previousAttributes(previous);
    }
  }

  /** A price ({@code price_}): recurring licensed monthly at 10.00 USD unless told otherwise. */
  public static final class Price extends Builder<Price> {
    Price(String id) {
      super("price", id);
      base(Instant.now()).put("active", true).put("billing_scheme", "per_unit").put("currency", "usd").put("custom_unit_amount", null)
          .put("lookup_key", null).put("nickname", null).put("product", StripeIds.next("prod"))
          .put("recurring", new JsonObject().put("interval", "month").put("interval_count", 1).put("meter", null)
              .put("trial_period_days", null).put("usage_type", "licensed"))
          .put("tax_behavior", "unspecified").put("tiers_mode", null).put("transform_quantity", null).put("type", "recurring")
          .put("unit_amount", 1000).put("unit_amount_decimal", "1000");
    }

    /** A per-seat (quantity) recurring price. */
    public Price licensed() {
      recurring().put("usage_type", "licensed").put("meter", null);
      return this;
    }

    /** A usage-based recurring price billed from a meter ({@code mtr_}); items on it have no quantity. */
    public Price metered(String meterId) {
      recurring().put("usage_type", "metered").put("meter", meterId);
      return this;
    }

    /** A one-time price (a credit pack). */
    public Price oneTime() {
      json.put("type", "one_time").put("recurring", null);
      return this;
    }

    /** day, week, month or year. */
    public Price interval(String interval) {
      recurring().put("interval", interval);
      return this;
    }

    public Price unitAmount(long cents) {
      json.put("unit_amount", cents).put("unit_amount_decimal", Long.toString(cents));
      return this;
    }

    public Price currency(String currency) {
      json.put("currency", currency);
      return this;
    }

    public Price product(String productId) {
      json.put("product", productId);
      return this;
    }

    private JsonObject recurring() {
      if (json.getJsonObject("recurring") == null) {
        json.put("type", "recurring").put("recurring", new JsonObject().put("interval", "month").put("interval_count", 1)
            .put("meter", null).put("trial_period_days", null).put("usage_type", "licensed"));
      }
      return json.getJsonObject("recurring");
    }
  }

  /**
   * A subscription ({@code sub_}): active, created now, monthly, no items until added. The current
   * period is written on every item and, as older API versions had it, on the subscription itself.
   */
  public static final class Subscription extends Builder<Subscription> {
    Subscription() {
      super("subscription", StripeIds.next("sub"));
      Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
      base(now).put("application", null).put("billing_cycle_anchor", seconds(now)).put("cancel_at", null)
          .put("cancel_at_period_end", false).put("canceled_at", null).put("cancellation_details",
              new JsonObject().put("comment", null).put("feedback", null).put("reason", null))
          .put("collection_method", "charge_automatically").put("currency", "usd").put("customer", StripeIds.next("cus"))
          .put("days_until_due", null).put("default_payment_method", null).put("description", null).put("discounts", new JsonArray())
          .put("ended_at", null).put("items", new JsonObject().put("object", "list").put("data", new JsonArray())
              .put("has_more", false).put("total_count", 0).put("url", "/v1/subscription_items?subscription=" + id()))
          .put("latest_invoice", null).put("pause_collection", null).put("pending_update", null).put("schedule", null)
          .put("start_date", seconds(now)).put("status", "active").put("test_clock", null).put("trial_end", null)
          .put("trial_start", null);
      period(now, plus(now, "month", 1));
    }

    @Override
    public Subscription id(String id) {
      super.id(id);
      json.getJsonObject("items").put("url", "/v1/subscription_items?subscription=" + id);
      items().forEach(i -> ((JsonObject) i).put("subscription", id));
      return this;
    }

    public Subscription customer(String customerId) {
      json.put("customer", customerId);
      return this;
    }

    /** incomplete, incomplete_expired, trialing, active, past_due, canceled, unpaid or paused. */
    public Subscription status(String status) {
      json.put("status", status);
      return this;
    }

    public Subscription cancelAtPeriodEnd(boolean cancel) {
      json.put("cancel_at_period_end", cancel).put("cancel_at", cancel ? json.getLong("current_period_end") : null);
      return this;
    }

    /** Ended now: status canceled, {@code canceled_at} and {@code ended_at} set (a {@code customer.subscription.deleted}). */
    public Subscription canceled(Instant at) {
      json.put("status", "canceled").put("canceled_at", seconds(at)).put("ended_at", seconds(at))
          .getJsonObject("cancellation_details").put("reason", "cancellation_requested");
      return this;
    }

    /** A trial from {@code start} to {@code end}: status trialing, and the current period is the trial. */
    public Subscription trial(Instant start, Instant end) {
      json.put("status", "trialing").put("trial_start", seconds(start)).put("trial_end", seconds(end));
      return period(start, end);
    }

    /** The current period, on every item (today's place) and on the subscription (older API versions' place). */
    public Subscription period(Instant start, Instant end) {
      json.put("current_period_start", seconds(start)).put("current_period_end", seconds(end));
      items().forEach(i -> ((JsonObject) i).put("current_period_start", seconds(start)).put("current_period_end", seconds(end)));
      if (json.getBoolean("cancel_at_period_end", false)) {
        json.put("cancel_at", seconds(end));
      }
      return this;
    }

    /** A per-seat item on a licensed monthly price. */
    public Subscription licensedItem(String priceId, long quantity) {
      return item(price(priceId).licensed(), quantity);
    }

    /** A usage-based item on a metered monthly price (no quantity, as Stripe has it). */
    public Subscription meteredItem(String priceId) {
      return item(price(priceId).metered(StripeIds.next("mtr")), null);
    }

    /** An item on any price; {@code quantity} is {@code null} for metered prices. */
    public Subscription item(Price price, Long quantity) {
      JsonObject item = new JsonObject().put("id", StripeIds.next("si")).put("object", "subscription_item")
          .put("created", json.getLong("created")).put("current_period_end", json.getLong("current_period_end"))
          .put("current_period_start", json.getLong("current_period_start")).put("discounts", new JsonArray())
          .put("metadata", new JsonObject()).put("price", price.json()).put("subscription", id()).put("tax_rates", new JsonArray());
      if (quantity != null) {
        item.put("quantity", quantity);
      }
      items().add(item);
      json.getJsonObject("items").put("total_count", items().size());
      if (items().size() == 1) {
        json.put("currency", price.json.getString("currency"));
      }
      return this;
    }

    public Subscription defaultPaymentMethod(String paymentMethodId) {
      json.put("default_payment_method", paymentMethodId);
      return this;
    }

    public Subscription latestInvoice(String invoiceId) {
      json.put("latest_invoice", invoiceId);
      return this;
    }

    public String customer() {
      return json.getString("customer");
    }

    public String status() {
      return json.getString("status");
    }

    public Instant currentPeriodStart() {
      return Instant.ofEpochSecond(json.getLong("current_period_start"));
    }

    public Instant currentPeriodEnd() {
      return Instant.ofEpochSecond(json.getLong("current_period_end"));
    }

    JsonArray items() {
      return json.getJsonObject("items").getJsonArray("data");
    }

    public StripeEvents.Event createdEvent() {
      return event("customer.subscription.created");
    }

    /** {@code customer.subscription.updated}; {@code previous} holds the changed fields' old values. */
    public StripeEvents.Event updatedEvent(JsonObject previous) {
      return event("customer.subscription.updated").previousAttributes(previous);
    }

    public StripeEvents.Event deletedEvent() {
      return event("customer.subscription.deleted");
    }

    /** Sent three days before {@code trial_end}. */
    public StripeEvents.Event trialWillEndEvent() {
      return event("customer.subscription.trial_will_end");
    }
  }

  /** An invoice ({@code in_}): a draft subscription-cycle invoice of 0.00 USD until told otherwise ({@link #paid()}, {@link #paymentFailed}). */
  public static final class Invoice extends Builder<Invoice> {
    Invoice() {
      super("invoice", StripeIds.next("in"));
      Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
      String account = "acct_1" + StripeIds.random(15);
      String secret = StripeIds.random(40);
      base(now).put("account_country", "US").put("account_name", "Tollgate test").put("amount_due", 0).put("amount_overpaid", 0)
          .put("amount_paid", 0).put("amount_remaining", 0).put("amount_shipping", 0).put("attempt_count", 0).put("attempted", false)
          .put("auto_advance", false).put("automatically_finalizes_at", null).put("billing_reason", "subscription_cycle")
          .put("collection_method", "charge_automatically").put("currency", "usd").put("customer", StripeIds.next("cus"))
          .put("customer_email", null).put("customer_name", null).put("default_payment_method", null).put("description", null)
          .put("discounts", new JsonArray()).put("due_date", null).put("effective_at", seconds(now)).put("ending_balance", 0)
          .put("footer", null).put("hosted_invoice_url", "https://invoice.stripe.com/i/" + account + "/test_" + secret)
          .put("invoice_pdf", "https://pay.stripe.com/invoice/" + account + "/test_" + secret + "/pdf?s=ap")
          .put("last_finalization_error", null).put("lines", new JsonObject().put("object", "list").put("data", new JsonArray())
              .put("has_more", false).put("total_count", 0).put("url", "/v1/invoices/" + id() + "/lines"))
          .put("next_payment_attempt", null).put("number", StripeIds.random(8).toUpperCase() + "-0001").put("parent", null)
          .put("period_end", seconds(now)).put("period_start", seconds(now)).put("receipt_number", null).put("starting_balance", 0)
          .put("status", "draft").put("status_transitions", new JsonObject().put("finalized_at", null).put("marked_uncollectible_at", null)
              .put("paid_at", null).put("voided_at", null))
          .put("subscription", null).put("subtotal", 0).put("subtotal_excluding_tax", 0).put("test_clock", null).put("total", 0)
          .put("total_excluding_tax", 0).put("webhooks_delivered_at", null);
    }

    @Override
    public Invoice id(String id) {
      super.id(id);
      json.getJsonObject("lines").put("url", "/v1/invoices/" + id + "/lines");
      lines().forEach(l -> ((JsonObject) l).put("invoice", id));
      return this;
    }

    public Invoice customer(String customerId) {
      json.put("customer", customerId);
      return this;
    }

    /** The subscription that billed it, where today's API has it ({@code parent}) and where older versions did. */
    public Invoice subscription(String subscriptionId) {
      json.put("subscription", subscriptionId).put("parent", subscriptionId == null ? null : new JsonObject()
          .put("quote_details", null).put("type", "subscription_details").put("subscription_details",
              new JsonObject().put("metadata", new JsonObject()).put("subscription", subscriptionId)));
      return this;
    }

    /** draft, open, paid, uncollectible or void. */
    public Invoice status(String status) {
      json.put("status", status);
      return this;
    }

    /** subscription_create, subscription_cycle, subscription_update, subscription_threshold, manual, ... */
    public Invoice billingReason(String reason) {
      json.put("billing_reason", reason);
      return this;
    }

    /** The amount to collect (also its total and subtotal), in cents. */
    public Invoice amountDue(long cents) {
      json.put("amount_due", cents).put("total", cents).put("subtotal", cents).put("total_excluding_tax", cents)
          .put("subtotal_excluding_tax", cents);
      return remaining();
    }

    public Invoice amountPaid(long cents) {
      json.put("amount_paid", cents);
      return remaining();
    }

    public Invoice currency(String currency) {
      json.put("currency", currency);
      lines().forEach(l -> ((JsonObject) l).put("currency", currency));
      return this;
    }

    public Invoice attemptCount(int count) {
      json.put("attempt_count", count).put("attempted", count > 0);
      return this;
    }

    public Invoice nextPaymentAttempt(Instant at) {
      json.put("next_payment_attempt", at == null ? null : seconds(at));
      return this;
    }

    /** The invoice's period (for a cycle: the one that just ended, whose usage it bills). */
    public Invoice period(Instant start, Instant end) {
      json.put("period_start", seconds(start)).put("period_end", seconds(end));
      return this;
    }

    public Invoice customerEmail(String email) {
      json.put("customer_email", email);
      return this;
    }

    /** {@code hosted_invoice_url} and {@code invoice_pdf}, where the customer sees and downloads the invoice. */
    public Invoice urls(String hostedInvoiceUrl, String invoicePdf) {
      json.put("hosted_invoice_url", hostedInvoiceUrl).put("invoice_pdf", invoicePdf);
      return this;
    }

    /** Finalized and paid in full: status paid, amount_paid = amount_due, one attempt. */
    public Invoice paid() {
      long at = json.getLong("created");
      json.put("status", "paid").put("amount_paid", json.getLong("amount_due")).put("next_payment_attempt", null)
          .put("attempt_count", Math.max(1, json.getInteger("attempt_count"))).put("attempted", true);
      json.getJsonObject("status_transitions").put("finalized_at", at).put("paid_at", at);
      return remaining();
    }

    /** Finalized, and the charge failed: status open, nothing paid, another attempt due at {@code nextAttempt} (or none). */
    public Invoice paymentFailed(Instant nextAttempt) {
      json.put("status", "open").put("amount_paid", 0).put("attempt_count", json.getInteger("attempt_count") + 1).put("attempted", true)
          .put("next_payment_attempt", nextAttempt == null ? null : seconds(nextAttempt));
      json.getJsonObject("status_transitions").put("finalized_at", json.getLong("created"));
      return remaining();
    }

    /** A line for a price over a period: today's {@code pricing.price_details} and older versions' {@code price}. */
    public Invoice line(Price price, Long quantity, long amount, Instant start, Instant end) {
      JsonObject p = price.json();
      String subscription = json.getString("subscription");
      JsonObject line = new JsonObject().put("id", StripeIds.next("il")).put("object", "line_item").put("amount", amount)
          .put("currency", json.getString("currency")).put("description", (quantity == null ? "" : quantity + " × ") + p.getString("id"))
          .put("discount_amounts", new JsonArray()).put("discountable", true).put("discounts", new JsonArray()).put("invoice", id())
          .put("livemode", false).put("metadata", new JsonObject())
          .put("parent", subscription == null ? null : new JsonObject().put("type", "subscription_item_details")
              .put("invoice_item_details", null).put("subscription_item_details", new JsonObject().put("invoice_item", null)
                  .put("proration", false).put("proration_details", new JsonObject().put("credited_items", null))
                  .put("subscription", subscription).put("subscription_item", StripeIds.next("si"))))
          .put("period", new JsonObject().put("end", seconds(end)).put("start", seconds(start)))
          .put("pretax_credit_amounts", new JsonArray()).put("price", p)
          .put("pricing", new JsonObject().put("type", "price_details").put("price_details", new JsonObject()
              .put("price", p.getString("id")).put("product", p.getString("product"))).put("unit_amount_decimal", p.getString("unit_amount_decimal")))
          .put("quantity", quantity).put("taxes", new JsonArray());
      lines().add(line);
      json.getJsonObject("lines").put("total_count", lines().size());
      return this;
    }

    /** A line for a licensed monthly price over the invoice's period. */
    public Invoice line(String priceId, long quantity, long amount) {
      return line(price(priceId), quantity, amount, Instant.ofEpochSecond(json.getLong("period_start")),
          Instant.ofEpochSecond(json.getLong("period_end")));
    }

    public String customer() {
      return json.getString("customer");
    }

    JsonArray lines() {
      return json.getJsonObject("lines").getJsonArray("data");
    }

    private Invoice remaining() {
      json.put("amount_remaining", Math.max(0, json.getLong("amount_due") - json.getLong("amount_paid")));
      return this;
    }

    public StripeEvents.Event paidEvent() {
      return event("invoice.paid");
    }

    public StripeEvents.Event paymentSucceededEvent() {
      return event("invoice.payment_succeeded");
    }

    public StripeEvents.Event paymentFailedEvent() {
      return event("invoice.payment_failed");
    }

    public StripeEvents.Event finalizedEvent() {
      return event("invoice.finalized");
    }
  }

  /** A Checkout session ({@code cs_test_}): a completed, paid payment-mode session until told otherwise. */
  public static final class CheckoutSession extends Builder<CheckoutSession> {
    CheckoutSession() {
      super("checkout.session", StripeIds.next("cs"));
      Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
      base(now).put("amount_subtotal", 0).put("amount_total", 0).put("billing_address_collection", null)
          .put("cancel_url", "https://example.com/cancel").put("client_reference_id", null).put("currency", "usd")
          .put("customer", StripeIds.next("cus")).put("customer_creation", null).put("customer_details", new JsonObject()
              .put("address", null).put("email", null).put("name", null).put("phone", null).put("tax_exempt", "none")
              .put("tax_ids", new JsonArray()))
          .put("customer_email", null).put("expires_at", seconds(now.plus(24, ChronoUnit.HOURS))).put("invoice", null)
          .put("locale", null).put("mode", "payment").put("payment_intent", null).put("payment_method_types", new JsonArray().add("card"))
          .put("payment_status", "paid").put("setup_intent", null).put("status", "complete").put("subscription", null)
          .put("success_url", "https://example.com/success").put("ui_mode", "hosted").put("url", null);
    }

    public CheckoutSession customer(String customerId) {
      json.put("customer", customerId);
      return this;
    }

    public CheckoutSession clientReferenceId(String reference) {
      json.put("client_reference_id", reference);
      return this;
    }

    /** As Tollgate opens sessions: {@code client_reference_id} and metadata {@code tollgate_account_id}. */
    public CheckoutSession account(long accountId) {
      return clientReferenceId(Long.toString(accountId)).metadata("tollgate_account_id", Long.toString(accountId));
    }

    /** As Tollgate opens a session for a plan: metadata {@code tollgate_kind=subscription} and {@code tollgate_plan}. */
    public CheckoutSession plan(String plan) {
      return metadata("tollgate_kind", "subscription").metadata("tollgate_plan", plan);
    }

    /**
     * As Tollgate opens a session for a credit pack: metadata {@code tollgate_kind=credit_pack},
     * {@code tollgate_pack} and {@code tollgate_credits}.
     */
    public CheckoutSession creditPack(String pack, long credits) {
      return metadata("tollgate_kind", "credit_pack").metadata("tollgate_pack", pack).metadata("tollgate_credits", Long.toString(credits));
    }

    /** A subscription-mode session that created this subscription. */
    public CheckoutSession subscription(String subscriptionId) {
      json.put("mode", "subscription").put("subscription", subscriptionId).put("payment_intent", null);
      return this;
    }

    /** A payment-mode session (a credit pack) paid by this PaymentIntent. */
    public CheckoutSession paymentIntent(String paymentIntentId) {
      json.put("mode", "payment").put("payment_intent", paymentIntentId).put("subscription", null);
      return this;
    }

    public CheckoutSession invoice(String invoiceId) {
      json.put("invoice", invoiceId);
      return this;
    }

    /** The amount charged (also its subtotal), in cents. */
    public CheckoutSession amountTotal(long cents) {
      json.put("amount_total", cents).put("amount_subtotal", cents);
      return this;
    }

    public CheckoutSession currency(String currency) {
      json.put("currency", currency);
      return this;
    }

    /** open, complete or expired. */
    public CheckoutSession status(String status) {
      json.put("status", status);
      return this;
    }

    /** paid, unpaid or no_payment_required. */
    public CheckoutSession paymentStatus(String status) {
      json.put("payment_status", status);
      return this;
    }

    /** Not yet paid: status open, payment unpaid, a URL to send the customer to. */
    public CheckoutSession open() {
      json.put("status", "open").put("payment_status", "unpaid").put("url", "https://checkout.stripe.com/c/pay/" + id());
      return this;
    }

    public CheckoutSession urls(String successUrl, String cancelUrl) {
      json.put("success_url", successUrl).put("cancel_url", cancelUrl);
      return this;
    }

    public CheckoutSession customerDetails(String email, String name) {
      json.getJsonObject("customer_details").put("email", email).put("name", name);
      return this;
    }

    public String mode() {
      return json.getString("mode");
    }

    public StripeEvents.Event completedEvent() {
      return event("checkout.session.completed");
    }

    /** Sent once a delayed payment method (a bank debit, say) has paid a session that completed {@code unpaid}. */
    public StripeEvents.Event asyncPaymentSucceededEvent() {
      return event("checkout.session.async_payment_succeeded");
    }
  }

  /** A card payment method ({@code pm_}): Visa 4242, attached to no customer until told. */
  public static final class PaymentMethod extends Builder<PaymentMethod> {
    PaymentMethod() {
      super("payment_method", StripeIds.next("pm"));
      base(Instant.now()).put("allow_redisplay", "unspecified").put("billing_details", new JsonObject()
              .put("address", new JsonObject().put("city", null).put("country", null).put("line1", null).put("line2", null)
                  .put("postal_code", null).put("state", null))
              .put("email", null).put("name", null).put("phone", null))
          .put("customer", null).put("type", "card");
      card("visa", "4242", 12, Instant.now().atZone(ZoneOffset.UTC).getYear() + 3);
    }

    /** Attached to this customer; {@code null} once detached (as {@code payment_method.detached} shows it). */
    public PaymentMethod customer(String customerId) {
      json.put("customer", customerId);
      return this;
    }

    public PaymentMethod card(String brand, String last4, int expMonth, int expYear) {
      json.put("card", new JsonObject().put("brand", brand).put("checks", new JsonObject().put("address_line1_check", null)
              .put("address_postal_code_check", null).put("cvc_check", "pass"))
          .put("country", "US").put("display_brand", brand).put("exp_month", expMonth).put("exp_year", expYear)
          .put("fingerprint", StripeIds.random(16)).put("funding", "credit").put("generated_from", null).put("last4", last4)
          .put("networks", new JsonObject().put("available", new JsonArray().add(brand)).put("preferred", null))
          .put("three_d_secure_usage", new JsonObject().put("supported", true)).put("wallet", null));
      return this;
    }

    public StripeEvents.Event attachedEvent() {
      return event("payment_method.attached");
    }

    /** {@code payment_method.detached}: the object shows {@code customer: null}, the old customer is in previous_attributes. */
    public StripeEvents.Event detachedEvent() {
      String was = json.getString("customer");
      JsonObject detached = json().put("customer", null);
      return StripeEvents.event("payment_method.detached", detached).previousAttributes(new JsonObject().put("customer", was));
    }
  }

  /** A PaymentIntent ({@code pi_}): a succeeded card charge of 10.00 USD until told otherwise. */
  public static final class PaymentIntent extends Builder<PaymentIntent> {
    PaymentIntent() {
      super("payment_intent", StripeIds.next("pi"));
      base(Instant.now()).put("amount", 1000).put("amount_capturable", 0).put("amount_received", 1000)
          .put("automatic_payment_methods", new JsonObject().put("allow_redirects", "never").put("enabled", true))
          .put("canceled_at", null).put("cancellation_reason", null).put("capture_method", "automatic_async")
          .put("client_secret", id() + "_secret_" + StripeIds.random(25)).put("confirmation_method", "automatic")
          .put("currency", "usd").put("customer", null).put("description", null).put("last_payment_error", null)
          .put("latest_charge", StripeIds.next("ch")).put("next_action", null).put("payment_method", null)
          .put("payment_method_types", new JsonArray().add("card")).put("receipt_email", null).put("setup_future_usage", null)
          .put("statement_descriptor", null).put("status", "succeeded");
    }

    @Override
    public PaymentIntent id(String id) {
      super.id(id);
      json.put("client_secret", id + "_secret_" + StripeIds.random(25));
      return this;
    }

    /** In cents; also what was received while the intent has succeeded. */
    public PaymentIntent amount(long cents) {
      json.put("amount", cents).put("amount_received", "succeeded".equals(json.getString("status")) ? cents : 0);
      return this;
    }

    public PaymentIntent currency(String currency) {
      json.put("currency", currency);
      return this;
    }

    public PaymentIntent customer(String customerId) {
      json.put("customer", customerId);
      return this;
    }

    public PaymentIntent paymentMethod(String paymentMethodId) {
      json.put("payment_method", paymentMethodId);
      return this;
    }

    /** off_session or on_session: the card is kept for later charges. */
    public PaymentIntent setupFutureUsage(String usage) {
      json.put("setup_future_usage", usage);
      return this;
    }

    /** requires_payment_method, requires_confirmation, requires_action, processing, succeeded or canceled. */
    public PaymentIntent status(String status) {
      json.put("status", status).put("amount_received", "succeeded".equals(status) ? json.getLong("amount") : 0);
      return this;
    }

    /** Charged: status succeeded, the amount received, no error. */
    public PaymentIntent succeeded() {
      json.put("last_payment_error", null);
      return status("succeeded");
    }

    /**
     * The charge failed: status requires_payment_method and {@code last_payment_error} as Stripe
     * writes it ({@code card_declined}/{@code insufficient_funds},
     * {@code authentication_required}/{@code authentication_required}, ...).
     */
    public PaymentIntent failed(String code, String declineCode, String message) {
      json.put("last_payment_error", new JsonObject().put("type", "card_error").put("code", code).put("decline_code", declineCode)
          .put("message", message).put("charge", json.getString("latest_charge"))
          .put("doc_url", "https://stripe.com/docs/error-codes/" + code.replace('_', '-'))
          .put("payment_method", json.getString("payment_method") == null ? null
              : StripeObjects.paymentMethod().id(json.getString("payment_method")).customer(json.getString("customer")).json()));
      return status("requires_payment_method");
    }

    public String status() {
      return json.getString("status");
    }

    public StripeEvents.Event succeededEvent() {
      return event("payment_intent.succeeded");
    }

    public StripeEvents.Event paymentFailedEvent() {
      return event("payment_intent.payment_failed");
    }
  }

  /** A charge ({@code ch_}): refunded in part or in full, or disputed. */
  public static final class Charge extends Builder<Charge> {
    Charge(String paymentIntentId) {
      super("charge", StripeIds.next("ch"));
      base(Instant.now()).put("amount", 1000).put("amount_captured", 1000).put("amount_refunded", 0).put("captured", true)
          .put("currency", "usd").put("customer", null).put("disputed", false).put("paid", true)
          .put("payment_intent", paymentIntentId).put("payment_method", null).put("refunded", false).put("status", "succeeded");
    }

    public Charge amount(long cents) {
      json.put("amount", cents).put("amount_captured", cents);
      return this;
    }

    public Charge customer(String customerId) {
      json.put("customer", customerId);
      return this;
    }

    /** Refunded so far, in cents (Stripe's {@code amount_refunded} is cumulative); {@code refunded} once it is all. */
    public Charge refundedSoFar(long cents) {
      json.put("amount_refunded", cents).put("refunded", cents >= json.getLong("amount"));
      return this;
    }

    public StripeEvents.Event refundedEvent() {
      return event("charge.refunded");
    }

    /** charge.dispute.created: the customer's bank disputes the whole charge. */
    public StripeEvents.Event disputeCreatedEvent(String reason) {
      json.put("disputed", true);
      JsonObject dispute = new JsonObject().put("id", StripeIds.next("dp")).put("object", "dispute").put("amount", json.getLong("amount"))
          .put("charge", id()).put("created", json.getLong("created")).put("currency", json.getString("currency"))
          .put("is_charge_refundable", false).put("livemode", false).put("metadata", new JsonObject())
          .put("payment_intent", json.getString("payment_intent")).put("reason", reason).put("status", "needs_response");
      return StripeEvents.event("charge.dispute.created", dispute);
    }
  }
}
