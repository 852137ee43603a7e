package io.tollgate.stripesync.billing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.tollgate.config.Secret;
import io.tollgate.stripesync.billing.CheckoutRequest.LineItem;
import io.tollgate.stripesync.billing.CheckoutRequest.Mode;
import io.tollgate.stripesync.fake.FakeStripe;
import io.tollgate.stripesync.fake.FakeStripe.CardOutcome;
import io.tollgate.stripesync.fake.FakeStripe.Fault;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("StripeJavaBilling: customers, Checkout, portal, invoices, off-session charges and subscriptions through real stripe-java")
class StripeJavaBillingTest {

  private static final String API_KEY = "sk_test_billing_51Hq9Zx0123456789abcdef";
  private static Vertx vertx;
  private static FakeStripe stripe;
  private static StripeJavaBilling billing;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    stripe = await(new FakeStripe(vertx, API_KEY).start());
    billing = new StripeJavaBilling(Secret.of(API_KEY), URI.create(stripe.baseUrl()), Duration.ofSeconds(5));
  }

  @AfterAll
  static void stop() throws Exception {
    await(stripe.close());
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static String key() {
    return "test-" + UUID.randomUUID();
  }

  private static String customer() throws BillingFailure {
    return billing.createCustomer(7, "Acme", "billing@acme.test", key());
  }

  private static CheckoutRequest subscriptionCheckout(String customer, Integer trialDays, String key) {
    return new CheckoutRequest(customer, Mode.SUBSCRIPTION, List.of(new LineItem("price_pro_base", 1L), new LineItem("price_pro_tokens", null)),
        "https://app.test/ok", "https://app.test/cancel", 42, Map.of("plan", "pro"),
        trialDays == null ? null : CheckoutRequest.Trial.withCard(trialDays), key);
  }

  private static CheckoutRequest creditPack(String customer, String key) {
    return new CheckoutRequest(customer, Mode.PAYMENT, List.of(new LineItem("price_credits_10k", 2L)), "https://app.test/ok",
        "https://app.test/cancel", 42, Map.of("credit_pack", "10k"), null, key);
  }

  @Nested
  @DisplayName("customers")
  class Customers {

    @Test
    @DisplayName("a customer is created with the account id in its metadata, with or without an email")
    void create() throws Exception {
      String withEmail = billing.createCustomer(11, "Acme", "a@acme.test", key());
      String withoutEmail = billing.createCustomer(12, "Beta", null, key());
      assertThat(withEmail).startsWith("cus_");
      JsonObject stored = stripe.customer(withEmail).orElseThrow();
      assertThat(stored.getString("name")).isEqualTo("Acme");
      assertThat(stored.getString("email")).isEqualTo("a@acme.test");
      assertThat(stored.getJsonObject("metadata").getString("tollgate_account_id")).isEqualTo("11");
      assertThat(stripe.customer(withoutEmail).orElseThrow().getValue("email")).isNull();
    }

    @Test
    @DisplayName("the same idempotency key returns the same customer and creates no second one")
    void idempotent() throws Exception {
      String key = key();
      int before = stripe.customersCreated();
      String first = billing.createCustomer(13, "Gamma", null, key);
      String again = billing.createCustomer(13, "Gamma", null, key);
      assertThat(again).isEqualTo(first);
      assertThat(stripe.customersCreated()).isEqualTo(before + 1);
    }

    @Test
    @DisplayName("a key reused for other parameters is a permanent idempotency error")
    void keyReuse() throws Exception {
      String key = key();
      billing.createCustomer(14, "Delta", null, key);
      BillingFailure f = catchThrowableOfType(BillingFailure.class, () -> billing.createCustomer(15, "Epsilon", null, key));
      assertThat(f.kind()).isEqualTo(BillingFailure.Kind.PERMANENT);
      assertThat(f.status()).contains(400);
      assertThat(f.getMessage()).contains("customer creation for account 15").contains("same parameters");
    }
  }

  @Nested
  @DisplayName("Checkout and the portal")
  class Checkout {

    @Test
    @DisplayName("a subscription session carries the account as client_reference_id and metadata, down to the subscription it creates")
    void subscription() throws Exception {
      String customer = customer();
      CheckoutLink link = billing.createCheckoutSession(subscriptionCheckout(customer, 14, key()));
      assertThat(link.id()).startsWith("cs_test_");
      assertThat(link.url()).startsWith("https://checkout.stripe.com/");
      assertThat(link.expiresAt()).isAfter(Instant.now().plus(23, ChronoUnit.HOURS));
      JsonObject session = stripe.checkoutSession(link.id()).orElseThrow();
      assertThat(session.getString("mode")).isEqualTo("subscription");
      assertThat(session.getString("customer")).isEqualTo(customer);
      assertThat(session.getString("client_reference_id")).isEqualTo("42");
      assertThat(session.getJsonObject("metadata").getMap()).containsEntry("tollgate_account_id", "42").containsEntry("plan", "pro");

      List<JsonObject> events = stripe.completeCheckout(link.id());
      assertThat(events).extracting(e -> e.getString("type"))
          .containsExactly("customer.subscription.created", "checkout.session.completed", "invoice.paid");
      String subscriptionId = events.get(1).getJsonObject("data").getJsonObject("object").getString("subscription");
      JsonObject subscription = stripe.subscription(subscriptionId).orElseThrow();
      assertThat(subscription.getString("status")).isEqualTo("trialing");
      assertThat(subscription.getJsonObject("metadata").getMap()).containsEntry("tollgate_account_id", "42").containsEntry("plan", "pro");
    }

    @Test
    @DisplayName("a credit-pack session keeps the card for off-session use and tags the PaymentIntent with the account")
    void payment() throws Exception {
      String customer = customer();
      CheckoutLink link = billing.createCheckoutSession(creditPack(customer, key()));
      assertThat(stripe.checkoutSession(link.id()).orElseThrow().getLong("amount_total")).isEqualTo(2000L);
      List<JsonObject> events = stripe.completeCheckout(link.id());
      assertThat(events).extracting(e -> e.getString("type")).containsExactly("checkout.session.completed", "payment_intent.succeeded");
      JsonObject intent = events.get(1).getJsonObject("data").getJsonObject("object");
      assertThat(intent.getString("setup_future_usage")).isEqualTo("off_session");
      assertThat(intent.getLong("amount")).isEqualTo(2000L);
      assertThat(intent.getJsonObject("metadata").getMap()).containsEntry("tollgate_account_id", "42").containsEntry("credit_pack", "10k");
      assertThat(events.get(0).getJsonObject("data").getJsonObject("object").getString("payment_intent")).isEqualTo(intent.getString("id"));
    }

    @Test
    @DisplayName("the same idempotency key returns the same session and opens no second one")
    void idempotent() throws Exception {
      String customer = customer();
      String key = key();
      int before = stripe.checkoutSessions();
      CheckoutLink first = billing.createCheckoutSession(creditPack(customer, key));
      CheckoutLink again = billing.createCheckoutSession(creditPack(customer, key));
      assertThat(again).isEqualTo(first);
      assertThat(stripe.checkoutSessions()).isEqualTo(before + 1);
    }

    @Test
    @DisplayName("a quantity on a metered price is refused as Stripe refuses it: permanent, naming the parameter")
    void meteredQuantity() throws Exception {
      stripe.definePrice(StripeObjects.price("price_metered_strict").metered("mtr_test_1"));
      CheckoutRequest bad = new CheckoutRequest(customer(), Mode.SUBSCRIPTION, List.of(new LineItem("price_metered_strict", 1L)),
          "https://app.test/ok", "https://app.test/cancel", 42, Map.of(), null, key());
      BillingFailure f = catchThrowableOfType(BillingFailure.class, () -> billing.createCheckoutSession(bad));
      assertThat(f.kind()).isEqualTo(BillingFailure.Kind.PERMANENT);
      assertThat(f.getMessage()).contains("metered");
    }

    @Test
    @DisplayName("a portal session links to the billing portal; an unknown customer is a permanent failure")
    void portal() throws Exception {
      String url = billing.createPortalSession(customer(), "https://app.test/billing", key());
      assertThat(url).startsWith("https://billing.stripe.com/p/session/");
      BillingFailure f = catchThrowableOfType(BillingFailure.class,
          () -> billing.createPortalSession("cus_missing", "https://app.test/billing", key()));
      assertThat(f.kind()).isEqualTo(BillingFailure.Kind.PERMANENT);
      assertThat(f.code()).contains("resource_missing");
      assertThat(f.getMessage()).contains("cus_missing");
    }
  }

  @Nested
  @DisplayName("invoices and subscriptions")
  class InvoicesAndSubscriptions {

    @Test
    @DisplayName("invoices list newest first, with the subscription read from parent.subscription_details")
    void invoices() throws Exception {
      String customer = customer();
      CheckoutLink link = billing.createCheckoutSession(subscriptionCheckout(customer, null, key()));
      List<JsonObject> events = stripe.completeCheckout(link.id());
      String subscription = events.get(0).getJsonObject("data").getJsonObject("object").getString("id");
      stripe.renewSubscription(subscription);

      List<InvoiceInfo> invoices = billing.listInvoices(customer, 10);
      assertThat(invoices).hasSize(2);
      assertThat(invoices).extracting(InvoiceInfo::billingReason).containsExactly("subscription_cycle", "subscription_create");
      InvoiceInfo first = invoices.get(1);
      assertThat(first.subscriptionId()).isEqualTo(subscription);
      assertThat(first.status()).isEqualTo("paid");
      assertThat(first.amountDue()).isEqualTo(1000L).isEqualTo(first.amountPaid());
      assertThat(first.currency()).isEqualTo("usd");
      assertThat(first.hostedInvoiceUrl()).startsWith("https://invoice.stripe.com/");
      assertThat(first.invoicePdf()).contains("/pdf");
      assertThat(first.created()).isNotNull();
      assertThat(invoices.get(0).periodStart()).isEqualTo(first.created());
      assertThat(billing.listInvoices(customer, 1)).hasSize(1);
      assertThat(billing.listInvoices(customer(), 10)).isEmpty();
    }

    @Test
    @DisplayName("a subscription's period is read from its items, where this API version keeps it")
    void subscription() throws Exception {
      String customer = customer();
      CheckoutLink link = billing.createCheckoutSession(subscriptionCheckout(customer, 14, key()));
      JsonObject created = stripe.completeCheckout(link.id()).get(0).getJsonObject("data").getJsonObject("object");

      SubscriptionInfo info = billing.retrieveSubscription(created.getString("id"));
      assertThat(info.customerId()).isEqualTo(customer);
      assertThat(info.status()).isEqualTo("trialing");
      assertThat(info.cancelAtPeriodEnd()).isFalse();
      assertThat(info.priceIds()).containsExactly("price_pro_base", "price_pro_tokens");
      JsonObject item = created.getJsonObject("items").getJsonArray("data").getJsonObject(0);
      assertThat(info.currentPeriodStart()).isEqualTo(Instant.ofEpochSecond(item.getLong("current_period_start")));
      assertThat(info.currentPeriodEnd()).isEqualTo(Instant.ofEpochSecond(item.getLong("current_period_end")));
      assertThat(info.trialEnd()).isEqualTo(info.currentPeriodEnd());
      assertThat(Duration.between(info.currentPeriodStart(), info.trialEnd())).isEqualTo(Duration.ofDays(14));

      BillingFailure f = catchThrowableOfType(BillingFailure.class, () -> billing.retrieveSubscription("sub_missing"));
      assertThat(f.kind()).isEqualTo(BillingFailure.Kind.PERMANENT);
      assertThat(f.status()).contains(404);
    }
  }

  @Nested
  @DisplayName("off-session charges")
  class Charges {

    @Test
    @DisplayName("a charge confirms off-session with the account's metadata and announces payment_intent.succeeded")
    void succeeds() throws Exception {
      String customer = customer();
      String card = stripe.attachCard(customer, false);
      int mark = stripe.eventCount();
      PaymentResult result = billing.chargeOffSession(customer, card, 1500, "usd", Map.of("topup", "t-1"), key());
      assertThat(result.succeeded()).isTrue();
      JsonObject intent = stripe.paymentIntent(result.paymentIntentId()).orElseThrow();
      assertThat(intent.getString("payment_method")).isEqualTo(card);
      assertThat(intent.getLong("amount_received")).isEqualTo(1500L);
      assertThat(intent.getJsonObject("metadata").getString("topup")).isEqualTo("t-1");
      assertThat(stripe.eventsSince(mark)).extracting(e -> e.getString("type")).containsExactly("payment_intent.succeeded");
    }

    @Test
    @DisplayName("without a payment method the customer's default card is charged; with none, a permanent failure and no charge")
    void defaultCard() throws Exception {
      String customer = customer();
      int before = stripe.paymentIntentsCreated();
      BillingFailure none = catchThrowableOfType(BillingFailure.class,
          () -> billing.chargeOffSession(customer, null, 1500, "usd", Map.of(), key()));
      assertThat(none.kind()).isEqualTo(BillingFailure.Kind.PERMANENT);
      assertThat(none.code()).contains("no_default_payment_method");
      assertThat(stripe.paymentIntentsCreated()).isEqualTo(before);

      String card = stripe.attachCard(customer, true);
      PaymentResult result = billing.chargeOffSession(customer, null, 1500, "usd", Map.of(), key());
      assertThat(stripe.paymentIntent(result.paymentIntentId()).orElseThrow().getString("payment_method")).isEqualTo(card);
    }

    @Test
    @DisplayName("the same idempotency key returns the same PaymentIntent and charges once")
    void idempotent() throws Exception {
      String customer = customer();
      String card = stripe.attachCard(customer, true);
      String key = key();
      int before = stripe.paymentIntentsCreated();
      PaymentResult first = billing.chargeOffSession(customer, card, 2500, "usd", Map.of(), key);
      PaymentResult again = billing.chargeOffSession(customer, card, 2500, "usd", Map.of(), key);
      assertThat(again).isEqualTo(first);
      assertThat(stripe.paymentIntentsCreated()).isEqualTo(before + 1);
    }

    @Test
    @DisplayName("a charge Stripe carried out but whose answer was lost is retried by stripe-java and replayed, not repeated")
    void lostAnswer() throws Exception {
      String customer = customer();
      String card = stripe.attachCard(customer, true);
      int before = stripe.paymentIntentsCreated();
      int replays = stripe.idempotentReplays();
      stripe.enqueueFor("/v1/payment_intents", Fault.ACCEPT_THEN_FAIL);
      PaymentResult result = billing.chargeOffSession(customer, card, 2500, "usd", Map.of(), key());
      assertThat(result.succeeded()).isTrue();
      assertThat(stripe.paymentIntentsCreated()).isEqualTo(before + 1);
      assertThat(stripe.idempotentReplays()).isEqualTo(replays + 1);
    }

    @Test
    @DisplayName("a declined card is CARD_DECLINED with the decline code and the PaymentIntent it left; a replay declines the same way")
    void declined() throws Exception {
      String customer = customer();
      String card = stripe.attachCard(customer, true);
      stripe.cardOutcome(customer, CardOutcome.DECLINE);
      int mark = stripe.eventCount();
      String key = key();
      BillingFailure f = catchThrowableOfType(BillingFailure.class, () -> billing.chargeOffSession(customer, card, 2500, "usd", Map.of(), key));
      assertThat(f.kind()).isEqualTo(BillingFailure.Kind.CARD_DECLINED);
      assertThat(f.retryable()).isFalse();
      assertThat(f.status()).contains(402);
      assertThat(f.code()).contains("card_declined");
      assertThat(f.declineCode()).contains("insufficient_funds");
      String intent = f.paymentIntentId().orElseThrow();
      assertThat(stripe.paymentIntent(intent).orElseThrow().getString("status")).isEqualTo("requires_payment_method");
      assertThat(stripe.eventsSince(mark)).extracting(e -> e.getString("type")).containsExactly("payment_intent.payment_failed");

      int created = stripe.paymentIntentsCreated();
      BillingFailure replay = catchThrowableOfType(BillingFailure.class,
          () -> billing.chargeOffSession(customer, card, 2500, "usd", Map.of(), key));
      assertThat(replay.paymentIntentId()).contains(intent);
      assertThat(stripe.paymentIntentsCreated()).isEqualTo(created);
    }

    @Test
    @DisplayName("a card that wants 3-D Secure is AUTHENTICATION_REQUIRED off-session")
    void authenticationRequired() throws Exception {
      String customer = customer();
      String card = stripe.attachCard(customer, true);
      stripe.cardOutcome(customer, CardOutcome.AUTHENTICATION_REQUIRED);
      BillingFailure f = catchThrowableOfType(BillingFailure.class, () -> billing.chargeOffSession(customer, card, 2500, "usd", Map.of(), key()));
      assertThat(f.kind()).isEqualTo(BillingFailure.Kind.AUTHENTICATION_REQUIRED);
      assertThat(f.code()).contains("authentication_required");
      assertThat(f.paymentIntentId()).isPresent();
    }
  }

  @Nested
  @DisplayName("Stripe trouble")
  class Trouble {

    @Test
    @DisplayName("a 500 is retried by stripe-java; three in a row are TRANSIENT, and nothing was created")
    void serverErrors() throws Exception {
      int before = stripe.customersCreated();
      int requests = stripe.requestsTo("/v1/customers");
      stripe.enqueueFor("/v1/customers", Fault.SERVER_ERROR);
      billing.createCustomer(21, "Once", null, key());
      assertThat(stripe.requestsTo("/v1/customers")).isEqualTo(requests + 2);

      stripe.enqueueFor("/v1/customers", Fault.SERVER_ERROR, Fault.SERVER_ERROR, Fault.SERVER_ERROR);
      BillingFailure f = catchThrowableOfType(BillingFailure.class, () -> billing.createCustomer(22, "Never", null, key()));
      assertThat(f.kind()).isEqualTo(BillingFailure.Kind.TRANSIENT);
      assertThat(f.retryable()).isTrue();
      assertThat(f.status()).contains(500);
      assertThat(stripe.requestsTo("/v1/customers")).isEqualTo(requests + 2 + 3);
      assertThat(stripe.customersCreated()).isEqualTo(before + 1);
    }

    @Test
    @DisplayName("a rate-limit 429 comes back RATE_LIMITED at once; a lock-timeout 429 is retried first")
    void rateLimited() throws Exception {
      int requests = stripe.requestsTo("/v1/checkout/sessions");
      String customer = customer();
      stripe.enqueueFor("/v1/checkout/sessions", Fault.RATE_LIMITED);
      BillingFailure f = catchThrowableOfType(BillingFailure.class, () -> billing.createCheckoutSession(creditPack(customer, key())));
      assertThat(f.kind()).isEqualTo(BillingFailure.Kind.RATE_LIMITED);
      assertThat(f.status()).contains(429);
      assertThat(f.code()).contains("rate_limit");
      assertThat(stripe.requestsTo("/v1/checkout/sessions")).isEqualTo(requests + 1);

      stripe.enqueueFor("/v1/checkout/sessions", Fault.LOCK_TIMEOUT, Fault.LOCK_TIMEOUT, Fault.LOCK_TIMEOUT);
      BillingFailure locked = catchThrowableOfType(BillingFailure.class, () -> billing.createCheckoutSession(creditPack(customer, key())));
      assertThat(locked.kind()).isEqualTo(BillingFailure.Kind.RATE_LIMITED);
      assertThat(locked.code()).contains("lock_timeout");
      assertThat(stripe.requestsTo("/v1/checkout/sessions")).isEqualTo(requests + 1 + 3);

      stripe.enqueueFor("/v1/checkout/sessions", Fault.LOCK_TIMEOUT);
      assertThat(billing.createCheckoutSession(creditPack(customer, key())).id()).startsWith("cs_test_");
    }

    @Test
    @DisplayName("no answer in time, three times over, is TRANSIENT without a status")
    void timeouts() throws Exception {
      StripeJavaBilling impatient = new StripeJavaBilling(Secret.of(API_KEY), URI.create(stripe.baseUrl()), Duration.ofMillis(300));
      stripe.slowMillis(1_500).enqueueFor("/v1/invoices", Fault.SLOW, Fault.SLOW, Fault.SLOW);
      BillingFailure f = catchThrowableOfType(BillingFailure.class, () -> impatient.listInvoices("cus_any", 5));
      assertThat(f.kind()).isEqualTo(BillingFailure.Kind.TRANSIENT);
      assertThat(f.status()).isEmpty();
      assertThat(f.getMessage()).contains("invoice list for cus_any").contains("SocketTimeoutException");
    }

    @Test
    @DisplayName("the API key appears in no failure message: not when Stripe rejects it, a card is declined, or Stripe fails")
    void noKeyInMessages() throws Exception {
      String wrongKey = "sk_test_wrong_51Hq9Zx9876543210fedcba";
      StripeJavaBilling wrong = new StripeJavaBilling(Secret.of(wrongKey), URI.create(stripe.baseUrl()), Duration.ofSeconds(5));
      BillingFailure rejected = catchThrowableOfType(BillingFailure.class, () -> wrong.createCustomer(31, "Nope", null, key()));
      assertThat(rejected.kind()).isEqualTo(BillingFailure.Kind.TRANSIENT);
      assertThat(rejected.status()).contains(401);
      assertThat(rejected.getMessage()).contains("Invalid API Key provided").doesNotContain(wrongKey).doesNotContain("sk_test")
          .doesNotContain(wrongKey.substring(wrongKey.length() - 4));
      assertThat(rejected.getCause()).isNull();

      String customer = customer();
      String card = stripe.attachCard(customer, true);
      stripe.cardOutcome(customer, CardOutcome.DECLINE);
      BillingFailure declined = catchThrowableOfType(BillingFailure.class,
          () -> billing.chargeOffSession(customer, card, 900, "usd", Map.of(), key()));
      stripe.enqueueFor("/v1/subscriptions", Fault.SERVER_ERROR, Fault.SERVER_ERROR, Fault.SERVER_ERROR);
      BillingFailure down = catchThrowableOfType(BillingFailure.class, () -> billing.retrieveSubscription("sub_x"));
      for (BillingFailure f : List.of(declined, down)) {
        assertThat(f.getMessage()).doesNotContain(API_KEY).doesNotContain("sk_test");
        assertThat(f.toString()).doesNotContain(API_KEY);
      }
    }
  }
}
