package io.tollgate.stripesync.fake;

import io.tollgate.stripesync.fake.FakeStripe.CardOutcome;
import io.tollgate.stripesync.fake.FakeStripe.Reply;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The state and endpoints of {@link FakeStripe} behind customers, Checkout, the billing portal,
 * invoices, PaymentIntents and subscriptions, and the events Stripe would send as that state
 * changes. Every method holds the monitor: the server's event loop and the test thread both call in.
 */
final class FakeStripeBilling {

  private static final List<String> ROOTS = List.of("/v1/customers", "/v1/checkout/sessions", "/v1/billing_portal/sessions",
      "/v1/invoices", "/v1/payment_intents", "/v1/subscriptions", "/v1/prices", "/v1/invoice_payments");

  /** A Checkout session and what it will create when completed. */
  private static final class Checkout {
    final StripeObjects.CheckoutSession session;
    /** The form parameters the session was created with, as parsed (nested brackets become objects and arrays). */
    final JsonObject params;
    final List<Line> lines = new ArrayList<>();
    JsonObject subscriptionMetadata = new JsonObject();
    Long trialDays;
    JsonObject paymentMetadata = new JsonObject();
    String setupFutureUsage;

    Checkout(StripeObjects.CheckoutSession session, JsonObject params) {
      this.session = session;
      this.params = params.copy();
    }
  }

  private record Line(StripeObjects.Price price, Long quantity) {
    long amount() {
      JsonObject p = price.json;
      boolean metered = p.getJsonObject("recurring") != null && "metered".equals(p.getJsonObject("recurring").getString("usage_type"));
      return metered || quantity == null ? 0 : p.getLong("unit_amount") * quantity;
    }
  }

  private final Map<String, StripeObjects.Customer> customers = new LinkedHashMap<>();
  private final Map<String, Checkout> checkouts = new LinkedHashMap<>();
  private final Map<String, JsonObject> portalSessions = new LinkedHashMap<>();
  private final Map<String, StripeObjects.Invoice> invoices = new LinkedHashMap<>();
  private final Map<String, StripeObjects.PaymentIntent> paymentIntents = new LinkedHashMap<>();
  private final Map<String, StripeObjects.Subscription> subscriptions = new LinkedHashMap<>();
  private final Map<String, StripeObjects.PaymentMethod> paymentMethods = new LinkedHashMap<>();
  private final Map<String, StripeObjects.Price> prices = new HashMap<>();
  private final Map<String, CardOutcome> outcomes = new HashMap<>();
  private final Map<String, String> invoicePaymentIntents = new HashMap<>();
  private final List<JsonObject> events = new ArrayList<>();
  private int customersCreated;
  private int checkoutSessionsCreated;
  private int paymentIntentsCreated;
  private Clock clock = Clock.systemUTC();

  boolean routes(String path) {
    return ROOTS.stream().anyMatch(root -> path.equals(root) || path.startsWith(root + "/"));
  }

  // ---- test controls

  synchronized void clock(Clock clock) {
    this.clock = clock;
  }

  synchronized void definePrice(StripeObjects.Price price) {
    prices.put(price.id(), price);
  }

  synchronized void cardOutcome(String customerId, CardOutcome outcome) {
    outcomes.put(customerId, outcome);
  }

  synchronized int customersCreated() {
    return customersCreated;
  }

  synchronized int checkoutSessions() {
    return checkoutSessionsCreated;
  }

  synchronized int paymentIntentsCreated() {
    return paymentIntentsCreated;
  }

  synchronized int portalSessions() {
    return portalSessions.size();
  }

  synchronized Optional<JsonObject> customer(String id) {
    return Optional.ofNullable(customers.get(id)).map(StripeObjects.Builder::json);
  }

  synchronized Optional<JsonObject> checkoutSession(String id) {
    return Optional.ofNullable(checkouts.get(id)).map(c -> c.session.json());
  }

  synchronized Optional<JsonObject> checkoutParams(String id) {
    return Optional.ofNullable(checkouts.get(id)).map(c -> c.params.copy());
  }

  synchronized Optional<JsonObject> subscription(String id) {
    return Optional.ofNullable(subscriptions.get(id)).map(StripeObjects.Builder::json);
  }

  synchronized Optional<JsonObject> paymentIntent(String id) {
    return Optional.ofNullable(paymentIntents.get(id)).map(StripeObjects.Builder::json);
  }

  synchronized List<JsonObject> paymentIntents() {
    return paymentIntents.values().stream().map(StripeObjects.Builder::json).toList();
  }

  synchronized List<JsonObject> invoices(String customerId) {
    return invoicesOf(customerId).stream().map(StripeObjects.Builder::json).toList();
  }

  synchronized int eventCount() {
    return events.size();
  }

  synchronized List<JsonObject> eventsSince(int mark) {
    return events.subList(Math.min(mark, events.size()), events.size()).stream().map(JsonObject::copy).toList();
  }

  synchronized String attachCard(String customerId, boolean asDefault) {
    StripeObjects.Customer customer = existingCustomer(customerId);
    StripeObjects.PaymentMethod card = newCard(customerId);
    log(card.attachedEvent(), null);
    if (asDefault) {
      String previous = customer.json.getJsonObject("invoice_settings").getString("default_payment_method");
      customer.defaultPaymentMethod(card.id());
      log(customer.updatedEvent(new JsonObject().put("invoice_settings", new JsonObject().put("default_payment_method", previous))), null);
    }
    return card.id();
  }

  synchronized List<JsonObject> completeCheckout(String sessionId) {
    Checkout checkout = checkouts.get(sessionId);
    if (checkout == null) {
      throw new IllegalArgumentException("FakeStripe has no checkout session " + sessionId);
    }
    JsonObject session = checkout.session.json;
    if (!"open".equals(session.getString("status"))) {
      throw new IllegalStateException("checkout session " + sessionId + " is " + session.getString("status") + ", not open");
    }
    Instant now = now();
    String customerId = session.getString("customer");
    if (customerId == null) {
      StripeObjects.Customer created = StripeObjects.customer().created(now);
      customers.put(created.id(), created);
      customerId = created.id();
      checkout.session.customer(customerId);
    }
    StripeObjects.PaymentMethod card = newCard(customerId);
    long total = checkout.lines.stream().mapToLong(Line::amount).sum();
    String currency = session.getString("currency");
    List<StripeEvents.Event> out = new ArrayList<>();
    checkout.session.status("complete").set("url", null);
    if ("payment".equals(checkout.session.mode())) {
      StripeObjects.PaymentIntent intent = StripeObjects.paymentIntent().created(now).customer(customerId).paymentMethod(card.id())
          .currency(currency).amount(total).setupFutureUsage(checkout.setupFutureUsage).metadata(strings(checkout.paymentMetadata))
          .succeeded();
      paymentIntents.put(intent.id(), intent);
      checkout.session.paymentIntent(intent.id()).paymentStatus("paid");
      out.add(checkout.session.completedEvent());
      out.add(intent.succeededEvent());
    } else {
      StripeObjects.Subscription sub = StripeObjects.subscription().created(now).set("start_date", now.getEpochSecond())
          .set("billing_cycle_anchor", now.getEpochSecond()).customer(customerId).defaultPaymentMethod(card.id())
          .metadata(strings(checkout.subscriptionMetadata));
      for (Line line : checkout.lines) {
        sub.item(line.price(), line.quantity());
      }
      if (checkout.trialDays != null) {
        sub.trial(now, now.plus(checkout.trialDays, ChronoUnit.DAYS));
      } else {
        sub.period(now, StripeObjects.plus(now, interval(checkout.lines), 1));
      }
      StripeObjects.Invoice invoice = StripeObjects.invoice().created(now).customer(customerId).subscription(sub.id())
          .billingReason("subscription_create").currency(currency).period(now, now);
      long due = 0;
      for (Line line : checkout.lines) {
        long amount = checkout.trialDays != null ? 0 : line.amount();
        invoice.line(line.price(), line.quantity(), amount, sub.currentPeriodStart(), sub.currentPeriodEnd());
        due += amount;
      }
      invoice.amountDue(due).paid();
      invoices.put(invoice.id(), invoice);
      sub.latestInvoice(invoice.id());
      subscriptions.put(sub.id(), sub);
      checkout.session.subscription(sub.id()).invoice(invoice.id()).paymentStatus(due == 0 ? "no_payment_required" : "paid");
      out.add(sub.createdEvent());
      out.add(checkout.session.completedEvent());
      out.add(invoice.paidEvent());
    }
    return out.stream().map(e -> log(e, null)).toList();
  }

  synchronized List<JsonObject> renewSubscription(String subscriptionId) {
    StripeObjects.Subscription sub = existingSubscription(subscriptionId);
    if (sub.status().equals("canceled")) {
      throw new IllegalStateException("subscription " + subscriptionId + " is canceled");
    }
    Instant now = now();
    Instant oldStart = sub.currentPeriodStart();
    Instant oldEnd = sub.currentPeriodEnd();
    String interval = "month";
    JsonArray items = sub.items();
    if (!items.isEmpty()) {
      JsonObject recurring = items.getJsonObject(0).getJsonObject("price").getJsonObject("recurring");
      interval = recurring == null ? interval : recurring.getString("interval", interval);
    }
    Instant newEnd = StripeObjects.plus(oldEnd, interval, 1);
    JsonObject previous = new JsonObject().put("current_period_start", oldStart.getEpochSecond())
        .put("current_period_end", oldEnd.getEpochSecond()).put("latest_invoice", sub.json.getString("latest_invoice"));
    StripeObjects.Invoice invoice = StripeObjects.invoice().created(now).customer(sub.customer()).subscription(sub.id())
        .billingReason("subscription_cycle").currency(sub.json.getString("currency")).period(oldStart, oldEnd);
    long due = 0;
    for (Object o : items) {
      JsonObject item = (JsonObject) o;
      StripeObjects.Price price = price(item.getJsonObject("price"));
      Long quantity = item.getLong("quantity");
      Line line = new Line(price, quantity);
      boolean metered = quantity == null;
      invoice.line(price, quantity, line.amount(), metered ? oldStart : oldEnd, metered ? oldEnd : newEnd);
      due += line.amount();
    }
    invoice.amountDue(due).status("open");
    invoice.json.getJsonObject("status_transitions").put("finalized_at", now.getEpochSecond());
    invoices.put(invoice.id(), invoice);
    sub.period(oldEnd, newEnd).latestInvoice(invoice.id());
    List<StripeEvents.Event> out = new ArrayList<>();
    StripeEvents.Event finalized = invoice.finalizedEvent();
    boolean pays = due == 0 || outcomes.getOrDefault(sub.customer(), CardOutcome.SUCCEED) == CardOutcome.SUCCEED;
    if (pays) {
      if (!sub.status().equals("active")) {
        previous.put("status", sub.status());
        sub.status("active");
      }
      invoice.paid();
      out.add(sub.updatedEvent(previous));
      out.add(finalized);
      out.add(invoice.paidEvent());
    } else {
      if (!sub.status().equals("past_due")) {
        previous.put("status", sub.status());
        sub.status("past_due");
      }
      invoice.paymentFailed(now.plus(3, ChronoUnit.DAYS));
      out.add(sub.updatedEvent(previous));
      out.add(finalized);
      out.add(invoice.paymentFailedEvent());
    }
    return out.stream().map(e -> log(e, null)).toList();
  }

  synchronized List<JsonObject> cancelSubscription(String subscriptionId) {
    StripeObjects.Subscription sub = existingSubscription(subscriptionId);
    sub.canceled(now());
    return List.of(log(sub.deletedEvent(), null));
  }

  // ---- the endpoints

  synchronized Reply handle(String method, String path, JsonObject params, String idempotencyKey) {
    String root = ROOTS.stream().filter(r -> path.equals(r) || path.startsWith(r + "/")).findFirst().orElse("");
    String id = path.length() > root.length() ? path.substring(root.length() + 1) : null;
    boolean post = method.equals("POST");
    boolean get = method.equals("GET");
    if (id != null && (id.isEmpty() || id.contains("/"))) {
      return unrecognized(method, path);
    }
    return switch (root) {
      case "/v1/customers" -> post && id == null ? createCustomer(params, idempotencyKey)
          : get && id != null ? found("customer", id, customers.get(id)) : unrecognized(method, path);
      case "/v1/checkout/sessions" -> post && id == null ? createCheckout(params)
          : get && id != null ? found("checkout.session", id, checkouts.containsKey(id) ? checkouts.get(id).session : null)
          : unrecognized(method, path);
      case "/v1/billing_portal/sessions" -> post && id == null ? createPortalSession(params) : unrecognized(method, path);
      case "/v1/invoices" -> get && id == null ? listInvoices(params)
          : post && "create_preview".equals(id) ? previewInvoice(params)
          : get ? found("invoice", id, invoices.get(id)) : unrecognized(method, path);
      case "/v1/payment_intents" -> post && id == null ? createPaymentIntent(params, idempotencyKey)
          : get && id != null ? found("payment_intent", id, paymentIntents.get(id)) : unrecognized(method, path);
      case "/v1/subscriptions" -> get && id != null ? found("subscription", id, subscriptions.get(id))
          : get ? listSubscriptions(params)
          : post && id != null ? updateSubscription(id, params, idempotencyKey) : unrecognized(method, path);
      case "/v1/invoice_payments" -> get && id == null ? listInvoicePayments(params) : unrecognized(method, path);
      case "/v1/prices" -> get && id != null ? found("price", id, prices.get(id)) : unrecognized(method, path);
      default -> unrecognized(method, path);
    };
  }

  private Reply createCustomer(JsonObject p, String idempotencyKey) {
    StripeObjects.Customer customer = StripeObjects.customer().created(now()).name(p.getString("name")).email(p.getString("email"))
        .metadata(strings(p.getJsonObject("metadata")));
    if (p.getString("description") != null) {
      customer.set("description", p.getString("description"));
    }
    customers.put(customer.id(), customer);
    customersCreated++;
    log(customer.createdEvent(), idempotencyKey);
    return ok(customer.json());
  }

  private Reply createCheckout(JsonObject p) {
    String mode = p.getString("mode");
    if (!"payment".equals(mode) && !"subscription".equals(mode)) {
      return mode == null ? missing("mode") : invalid("mode", "parameter_invalid_string", "Invalid mode: must be one of payment, setup, or subscription");
    }
    String customerId = p.getString("customer");
    if (customerId != null && !customers.containsKey(customerId)) {
      return noSuch("customer", customerId, 400);
    }
    JsonArray items = p.getValue("line_items") instanceof JsonArray a ? a : new JsonArray();
    if (items.isEmpty()) {
      return missing("line_items");
    }
    StripeObjects.CheckoutSession session = StripeObjects.checkoutSession().created(now()).set("customer", customerId)
        .clientReferenceId(p.getString("client_reference_id")).urls(p.getString("success_url"), p.getString("cancel_url"))
        .metadata(strings(p.getJsonObject("metadata")))
        .set("expires_at", now().plus(24, ChronoUnit.HOURS).getEpochSecond());
    Checkout checkout = new Checkout(session, p);
    for (int i = 0; i < items.size(); i++) {
      JsonObject item = items.getJsonObject(i);
      String priceId = item.getString("price");
      Long quantity = item.getString("quantity") == null ? null : Long.valueOf(item.getString("quantity"));
      if (priceId == null) {
        return missing("line_items[" + i + "][price]");
      }
      StripeObjects.Price price = prices.computeIfAbsent(priceId, id -> inferredPrice(id, mode, quantity));
      JsonObject recurring = price.json.getJsonObject("recurring");
      boolean metered = recurring != null && "metered".equals(recurring.getString("usage_type"));
      if (mode.equals("payment") && recurring != null) {
        return invalid("line_items[" + i + "][price]", "parameter_invalid_string", "You must be in `subscription` mode to use recurring prices: " + priceId + ".");
      }
      if (metered && quantity != null) {
        return invalid("line_items[" + i + "][quantity]", "parameter_unknown", "Quantity should not be specified where usage_type is `metered`. "
            + "Remove quantity from `line_items[" + i + "]`.");
      }
      if (!metered && quantity == null) {
        return missing("line_items[" + i + "][quantity]");
      }
      checkout.lines.add(new Line(price, quantity));
    }
    session.set("mode", mode).currency(checkout.lines.get(0).price().json.getString("currency")).open();
    JsonObject subscriptionData = p.getJsonObject("subscription_data", new JsonObject());
    JsonObject paymentData = p.getJsonObject("payment_intent_data", new JsonObject());
    if (mode.equals("subscription")) {
      checkout.subscriptionMetadata = subscriptionData.getJsonObject("metadata", new JsonObject());
      String trial = subscriptionData.getString("trial_period_days");
      checkout.trialDays = trial == null ? null : Long.valueOf(trial);
    } else {
      checkout.paymentMetadata = paymentData.getJsonObject("metadata", new JsonObject());
      checkout.setupFutureUsage = paymentData.getString("setup_future_usage");
    }
    session.amountTotal(checkout.trialDays != null ? 0 : checkout.lines.stream().mapToLong(Line::amount).sum());
    checkouts.put(session.id(), checkout);
    checkoutSessionsCreated++;
    return ok(session.json());
  }

  private Reply createPortalSession(JsonObject p) {
    String customerId = p.getString("customer");
    if (customerId == null) {
      return missing("customer");
    }
    if (!customers.containsKey(customerId)) {
      return noSuch("customer", customerId, 400);
    }
    String id = StripeIds.next("bps");
    JsonObject session = new JsonObject().put("id", id).put("object", "billing_portal.session")
        .put("configuration", StripeIds.next("bpc")).put("created", now().getEpochSecond()).put("customer", customerId)
        .put("flow", null).put("livemode", false).put("locale", null).put("on_behalf_of", null)
        .put("return_url", p.getString("return_url")).put("url", "https://billing.stripe.com/p/session/test_" + StripeIds.random(40));
    portalSessions.put(id, session);
    return ok(session.copy());
  }

  private Reply listInvoices(JsonObject p) {
    int limit;
    try {
      limit = p.getString("limit") == null ? 10 : Integer.parseInt(p.getString("limit"));
    } catch (NumberFormatException e) {
      return invalid("limit", "parameter_invalid_integer", "Invalid integer: " + p.getString("limit"));
    }
    if (limit < 1 || limit > 100) {
      return invalid("limit", "parameter_invalid_integer", "This value must be between 1 and 100 (it currently is " + limit + ").");
    }
    List<StripeObjects.Invoice> all = invoicesOf(p.getString("customer"));
    JsonArray data = new JsonArray();
    all.stream().limit(limit).forEach(i -> data.add(i.json()));
    return ok(new JsonObject().put("object", "list").put("data", data).put("has_more", all.size() > limit).put("url", "/v1/invoices"));
  }

  private Reply createPaymentIntent(JsonObject p, String idempotencyKey) {
    if (p.getString("amount") == null) {
      return missing("amount");
    }
    if (p.getString("currency") == null) {
      return missing("currency");
    }
    long amount = Long.parseLong(p.getString("amount"));
    String currency = p.getString("currency");
    if (amount < 50) {
      return FakeStripe.error(400, "invalid_request_error", "amount_too_small", "Amount must be at least $0.50 " + currency);
    }
    String customerId = p.getString("customer");
    if (customerId != null && !customers.containsKey(customerId)) {
      return noSuch("customer", customerId, 400);
    }
    String method = p.getString("payment_method");
    boolean confirm = "true".equals(p.getString("confirm"));
    if (confirm && method == null) {
      return FakeStripe.error(400, "invalid_request_error", "payment_intent_unexpected_state",
          "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with "
              + customerId + ", specify a payment method attached to this customer along with the customer ID.");
    }
    StripeObjects.PaymentIntent intent = StripeObjects.paymentIntent().created(now()).amount(amount).currency(currency)
        .customer(customerId).paymentMethod(method).setupFutureUsage(p.getString("setup_future_usage"))
        .metadata(strings(p.getJsonObject("metadata")));
    if (p.getString("description") != null) {
      intent.set("description", p.getString("description"));
    }
    paymentIntents.put(intent.id(), intent);
    paymentIntentsCreated++;
    if (!confirm) {
      intent.status(method == null ? "requires_payment_method" : "requires_confirmation");
      return ok(intent.json());
    }
    CardOutcome outcome = outcomes.getOrDefault(customerId, CardOutcome.SUCCEED);
    boolean offSession = "true".equals(p.getString("off_session"));
    switch (outcome) {
      case DECLINE -> {
        intent.failed("card_declined", "insufficient_funds", "Your card has insufficient funds.");
        log(intent.paymentFailedEvent(), idempotencyKey);
        return cardError(intent);
      }
      case AUTHENTICATION_REQUIRED -> {
        if (!offSession) {
          // With the customer present, Stripe asks for 3-D Secure instead of failing.
          intent.status("requires_action").set("next_action", new JsonObject().put("type", "use_stripe_sdk")
              .put("use_stripe_sdk", new JsonObject().put("type", "three_d_secure_redirect")));
          return ok(intent.json());
        }
        intent.failed("authentication_required", "authentication_required",
            "Your card was declined. This transaction requires authentication.");
        log(intent.paymentFailedEvent(), idempotencyKey);
        return cardError(intent);
      }
      default -> {
        intent.succeeded();
        log(intent.succeededEvent(), idempotencyKey);
        return ok(intent.json());
      }
    }
  }

  /**
   * Invoice payments: each paid invoice that collected money was paid by a PaymentIntent of its own
   * (made up on first sight, as the fake's invoices are paid without one).
   */
  private JsonObject invoicePayment(StripeObjects.Invoice invoice) {
    JsonObject inv = invoice.json;
    String intent = invoicePaymentIntents.computeIfAbsent(invoice.id(), id -> StripeIds.next("pi"));
    return new JsonObject().put("id", "inpay_" + StripeIds.random(24)).put("object", "invoice_payment")
        .put("amount_paid", inv.getLong("amount_paid")).put("amount_requested", inv.getLong("amount_due"))
        .put("created", inv.getLong("created")).put("currency", inv.getString("currency")).put("invoice", invoice.id())
        .put("is_default", true).put("livemode", false)
        .put("payment", new JsonObject().put("type", "payment_intent").put("payment_intent", intent)).put("status", "paid")
        .put("status_transitions", new JsonObject().put("canceled_at", null).put("paid_at", inv.getLong("created")));
  }

  private Reply listInvoicePayments(JsonObject p) {
    JsonObject payment = p.getJsonObject("payment", new JsonObject());
    String intent = payment.getString("payment_intent");
    String invoiceId = p.getString("invoice");
    JsonArray data = new JsonArray();
    for (StripeObjects.Invoice invoice : invoices.values()) {
      boolean collected = "paid".equals(invoice.json.getString("status")) && invoice.json.getLong("amount_paid") > 0;
      if (collected && (invoiceId == null || invoiceId.equals(invoice.id()))) {
        JsonObject row = invoicePayment(invoice);
        if (intent == null || intent.equals(row.getJsonObject("payment").getString("payment_intent"))) {
          data.add(row);
        }
      }
    }
    return ok(new JsonObject().put("object", "list").put("data", data).put("has_more", false).put("url", "/v1/invoice_payments"));
  }

  synchronized String invoicePaymentIntent(String invoiceId) {
    StripeObjects.Invoice invoice = invoices.get(invoiceId);
    if (invoice == null || !"paid".equals(invoice.json.getString("status")) || invoice.json.getLong("amount_paid") <= 0) {
      throw new IllegalArgumentException("FakeStripe has no paid invoice " + invoiceId + " that collected money");
    }
    return invoicePayment(invoice).getJsonObject("payment").getString("payment_intent");
  }

  private Reply listSubscriptions(JsonObject p) {
    String customer = p.getString("customer");
    String status = p.getString("status");
    JsonArray data = new JsonArray();
    List<StripeObjects.Subscription> all = new ArrayList<>(subscriptions.values());
    java.util.Collections.reverse(all);
    for (StripeObjects.Subscription sub : all) {
      boolean statusMatches = "all".equals(status) ? true : status == null ? !sub.status().equals("canceled") : sub.status().equals(status);
      if ((customer == null || customer.equals(sub.customer())) && statusMatches) {
        data.add(sub.json());
      }
    }
    return ok(new JsonObject().put("object", "list").put("data", data).put("has_more", false).put("url", "/v1/subscriptions"));
  }

  /**
   * What changing a subscription's items would invoice with {@code proration_behavior=always_invoice}:
   * for each licensed item removed, a credit for its unused time; for each licensed price added, a
   * charge for the rest of the period; each prorated by the second at {@code prorationDate} and
   * rounded to the cent, as Stripe does per line. Metered items prorate nothing (they bill usage).
   */
  private StripeObjects.Invoice prorations(StripeObjects.Subscription sub, JsonArray items, long prorationDate) {
    Instant start = sub.currentPeriodStart();
    Instant end = sub.currentPeriodEnd();
    double share = (double) (end.getEpochSecond() - prorationDate) / (end.getEpochSecond() - start.getEpochSecond());
    Instant from = Instant.ofEpochSecond(prorationDate);
    StripeObjects.Invoice invoice = StripeObjects.invoice().created(now()).customer(sub.customer()).subscription(sub.id())
        .billingReason("subscription_update").currency(sub.json.getString("currency")).period(from, from);
    long total = 0;
    for (Object o : items) {
      JsonObject item = (JsonObject) o;
      if ("true".equals(item.getString("deleted"))) {
        JsonObject existing = subscriptionItem(sub, item.getString("id"));
        if (existing == null) {
          return null;
        }
        Line line = new Line(price(existing.getJsonObject("price")), existing.getLong("quantity"));
        long amount = -Math.round(line.amount() * share);
        if (line.amount() > 0) {
          invoice.line(line.price(), line.quantity(), amount, from, end);
          prorated(invoice, "Unused time on " + line.price().id() + " after " + from);
          total += amount;
        }
      } else if (item.getString("price") != null) {
        Long quantity = item.getString("quantity") == null ? null : Long.valueOf(item.getString("quantity"));
        Line line = new Line(prices.computeIfAbsent(item.getString("price"), id -> inferredPrice(id, "subscription", quantity)), quantity);
        long amount = Math.round(line.amount() * share);
        if (line.amount() > 0) {
          invoice.line(line.price(), line.quantity(), amount, from, end);
          prorated(invoice, "Remaining time on " + line.price().id() + " after " + from);
          total += amount;
        }
      }
    }
    return invoice.amountDue(Math.max(0, total)).set("total", total).set("subtotal", total);
  }

  private static void prorated(StripeObjects.Invoice invoice, String description) {
    JsonObject line = invoice.lines().getJsonObject(invoice.lines().size() - 1);
    line.put("description", description);
    JsonObject parent = line.getJsonObject("parent");
    if (parent != null) {
      parent.getJsonObject("subscription_item_details").put("proration", true);
    }
  }

  private static JsonObject subscriptionItem(StripeObjects.Subscription sub, String itemId) {
    for (Object o : sub.items()) {
      if (((JsonObject) o).getString("id").equals(itemId)) {
        return (JsonObject) o;
      }
    }
    return null;
  }

  /** The proration date of a change: given, else now; within the current period, as Stripe insists. */
  private Long prorationDate(StripeObjects.Subscription sub, String given) {
    long at = given == null ? now().getEpochSecond() : Long.parseLong(given);
    return at < sub.currentPeriodStart().getEpochSecond() || at >= sub.currentPeriodEnd().getEpochSecond() ? null : at;
  }

  private Reply previewInvoice(JsonObject p) {
    String subId = p.getString("subscription");
    if (subId == null) {
      return missing("subscription");
    }
    StripeObjects.Subscription sub = subscriptions.get(subId);
    if (sub == null) {
      return noSuch("subscription", subId, 400);
    }
    JsonObject details = p.getJsonObject("subscription_details", new JsonObject());
    Long at = prorationDate(sub, details.getString("proration_date"));
    if (at == null) {
      return invalid("subscription_details[proration_date]", "parameter_invalid_integer",
          "The proration date must be within the subscription's current period.");
    }
    JsonArray items = details.getValue("items") instanceof JsonArray a ? a : new JsonArray();
    StripeObjects.Invoice preview = prorations(sub, items, at);
    if (preview == null) {
      return invalid("subscription_details[items]", "resource_missing", "No such subscription item on " + subId);
    }
    // A preview is never stored and has no id, as Stripe's has none.
    return ok(preview.json().put("id", null).put("status", "draft"));
  }

  private Reply updateSubscription(String subId, JsonObject p, String idempotencyKey) {
    StripeObjects.Subscription sub = subscriptions.get(subId);
    if (sub == null) {
      return noSuch("subscription", subId, 404);
    }
    if (sub.status().equals("canceled")) {
      return FakeStripe.error(400, "invalid_request_error", "resource_missing",
          "A canceled subscription can only update its cancellation_details and metadata.");
    }
    JsonObject previous = new JsonObject();
    List<StripeEvents.Event> out = new ArrayList<>();
    JsonArray items = p.getValue("items") instanceof JsonArray a ? a : new JsonArray();
    if (!items.isEmpty()) {
      Long at = prorationDate(sub, p.getString("proration_date"));
      if (at == null) {
        return invalid("proration_date", "parameter_invalid_integer", "The proration date must be within the subscription's current period.");
      }
      StripeObjects.Invoice invoice = prorations(sub, items, at);
      if (invoice == null) {
        return invalid("items", "resource_missing", "No such subscription item on " + subId);
      }
      long due = invoice.json.getLong("amount_due");
      boolean declines = due > 0 && outcomes.getOrDefault(sub.customer(), CardOutcome.SUCCEED) != CardOutcome.SUCCEED;
      if (declines && "error_if_incomplete".equals(p.getString("payment_behavior"))) {
        // Stripe refuses the whole update: the subscription keeps its items, the invoice is not kept.
        return new Reply(402, new JsonObject().put("error", new JsonObject().put("type", "card_error").put("code", "card_declined")
            .put("decline_code", "insufficient_funds").put("message", "Your card has insufficient funds.")
            .put("doc_url", "https://stripe.com/docs/error-codes/card-declined")));
      }
      previous.put("items", sub.json.getJsonObject("items").copy());
      for (Object o : items) {
        JsonObject item = (JsonObject) o;
        if ("true".equals(item.getString("deleted"))) {
          sub.items().remove(subscriptionItem(sub, item.getString("id")));
        } else if (item.getString("price") != null) {
          Long quantity = item.getString("quantity") == null ? null : Long.valueOf(item.getString("quantity"));
          sub.item(prices.get(item.getString("price")), quantity);
        }
      }
      sub.json.getJsonObject("items").put("total_count", sub.items().size());
      sub.period(sub.currentPeriodStart(), sub.currentPeriodEnd());
      invoice.paid();
      invoices.put(invoice.id(), invoice);
      previous.put("latest_invoice", sub.json.getString("latest_invoice"));
      sub.latestInvoice(invoice.id());
      out.add(sub.updatedEvent(previous));
      out.add(invoice.finalizedEvent());
      out.add(invoice.paidEvent());
    }
    if (p.getString("cancel_at_period_end") != null) {
      boolean cancel = "true".equals(p.getString("cancel_at_period_end"));
      if (cancel != sub.json.getBoolean("cancel_at_period_end", false)) {
        JsonObject was = new JsonObject().put("cancel_at_period_end", !cancel).put("cancel_at", sub.json.getValue("cancel_at"));
        sub.cancelAtPeriodEnd(cancel);
        out.add(sub.updatedEvent(was));
      }
    }
    out.forEach(e -> log(e, idempotencyKey));
    return ok(sub.json());
  }

  /** A 402 as Stripe answers a failed confirmation: the card error, with the PaymentIntent it left behind. */
  private static Reply cardError(StripeObjects.PaymentIntent intent) {
    JsonObject json = intent.json();
    JsonObject error = json.getJsonObject("last_payment_error").copy().put("payment_intent", json)
        .put("request_log_url", "https://dashboard.stripe.com/test/logs/req_" + StripeIds.random(14));
    return new Reply(402, new JsonObject().put("error", error));
  }

  // ---- helpers

  private Instant now() {
    return clock.instant().truncatedTo(ChronoUnit.SECONDS);
  }

  private JsonObject log(StripeEvents.Event event, String idempotencyKey) {
    event.created(now());
    if (idempotencyKey != null) {
      event.request("req_" + StripeIds.random(14), idempotencyKey);
    }
    JsonObject json = event.json();
    events.add(json);
    return json.copy();
  }

  private StripeObjects.PaymentMethod newCard(String customerId) {
    StripeObjects.PaymentMethod card = StripeObjects.paymentMethod().created(now()).customer(customerId);
    paymentMethods.put(card.id(), card);
    return card;
  }

  private List<StripeObjects.Invoice> invoicesOf(String customerId) {
    List<StripeObjects.Invoice> out = new ArrayList<>(invoices.values());
    if (customerId != null) {
      out.removeIf(i -> !customerId.equals(i.customer()));
    }
    // Newest first, as Stripe lists them; among equal times the later-made first.
    java.util.Collections.reverse(out);
    out.sort(Comparator.comparingLong((StripeObjects.Invoice i) -> i.json.getLong("created")).reversed());
    return out;
  }

  private StripeObjects.Customer existingCustomer(String id) {
    StripeObjects.Customer customer = customers.get(id);
    if (customer == null) {
      throw new IllegalArgumentException("FakeStripe has no customer " + id);
    }
    return customer;
  }

  private StripeObjects.Subscription existingSubscription(String id) {
    StripeObjects.Subscription sub = subscriptions.get(id);
    if (sub == null) {
      throw new IllegalArgumentException("FakeStripe has no subscription " + id);
    }
    return sub;
  }

  /** A price nobody defined: a 10.00 USD one-time price for payments; monthly, metered when it has no quantity, for subscriptions. */
  private static StripeObjects.Price inferredPrice(String id, String mode, Long quantity) {
    StripeObjects.Price price = StripeObjects.price(id);
    if (mode.equals("payment")) {
      return price.oneTime();
    }
    return quantity == null ? price.metered(StripeIds.next("mtr")).unitAmount(1) : price.licensed();
  }

  private static StripeObjects.Price price(JsonObject json) {
    StripeObjects.Price price = StripeObjects.price(json.getString("id"));
    price.json.mergeIn(json, true);
    return price;
  }

  private static String interval(List<Line> lines) {
    for (Line line : lines) {
      JsonObject recurring = line.price().json.getJsonObject("recurring");
      if (recurring != null) {
        return recurring.getString("interval", "month");
      }
    }
    return "month";
  }

  private static Map<String, String> strings(JsonObject json) {
    Map<String, String> out = new LinkedHashMap<>();
    if (json != null) {
      json.forEach(e -> out.put(e.getKey(), String.valueOf(e.getValue())));
    }
    return out;
  }

  private static Reply ok(JsonObject body) {
    return new Reply(200, body);
  }

  private static Reply found(String object, String id, StripeObjects.Builder<?> found) {
    return found == null ? noSuch(object, id, 404) : ok(found.json());
  }

  private static Reply noSuch(String object, String id, int status) {
    return FakeStripe.error(status, "invalid_request_error", "resource_missing", "No such " + object + ": '" + id + "'");
  }

  private static Reply missing(String param) {
    return FakeStripe.error(400, "invalid_request_error", "parameter_missing", "Missing required param: " + param + ".").withParam(param);
  }

  private static Reply invalid(String param, String code, String message) {
    return FakeStripe.error(400, "invalid_request_error", code, message).withParam(param);
  }

  private static Reply unrecognized(String method, String path) {
    return FakeStripe.error(404, "invalid_request_error", null, "Unrecognized request URL (" + method + ": " + path + ").");
  }
}
