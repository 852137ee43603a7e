package io.tollgate.stripesync.fake;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.stripe.StripeClient;
import com.stripe.events.V1BillingMeterErrorReportTriggeredEvent;
import com.stripe.events.V1BillingMeterErrorReportTriggeredEventNotification;
import com.stripe.model.Customer;
import com.stripe.model.Event;
import com.stripe.model.Invoice;
import com.stripe.model.InvoiceLineItem;
import com.stripe.model.PaymentIntent;
import com.stripe.model.PaymentMethod;
import com.stripe.model.StripeObject;
import com.stripe.model.Subscription;
import com.stripe.model.SubscriptionItem;
import com.stripe.model.checkout.Session;
import com.stripe.model.v2.core.EventNotification;
import com.stripe.net.Webhook;
import io.tollgate.stripesync.fake.FakeStripe.CardOutcome;
import io.tollgate.stripesync.webhooks.StripeEvent;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

@DisplayName("StripeEvents build events stripe-java reads as the real thing, and FakeStripe turns its state into them")
class StripeEventsTest {

  private static final String SECRET = "whsec_events_test";
  private static final String API_KEY = "sk_test_events_0123456789";
  private static final Instant T0 = Instant.parse("2026-11-01T10:00:00Z");

  /** Through stripe-java's signature check and typed deserialization, and through Tollgate's own envelope reader. */
  private static Event viaStripe(StripeEvents.Event built) throws Exception {
    String payload = built.payload();
    Event event = Webhook.constructEvent(payload, StripeSignature.header(payload, SECRET, Instant.now().getEpochSecond()), SECRET);
    StripeEvent ours = StripeEvent.from(new JsonObject(payload));
    assertThat(ours.id()).isEqualTo(event.getId()).startsWith("evt_");
    assertThat(ours.type()).isEqualTo(event.getType());
    return event;
  }

  private static <T extends StripeObject> T object(Event event, Class<T> type) {
    StripeObject object = event.getDataObjectDeserializer().getObject()
        .orElseThrow(() -> new AssertionError("stripe-java could not read data.object of " + event.getType()));
    assertThat(object).isInstanceOf(type);
    return type.cast(object);
  }

  @Nested
  @DisplayName("the builders")
  class Builders {

    @Test
    @DisplayName("the envelope: id, created, api_version, livemode, pending_webhooks, request and previous_attributes as set")
    void envelope() throws Exception {
      Event event = viaStripe(StripeObjects.subscription().status("past_due").updatedEvent(new JsonObject().put("status", "active"))
          .id("evt_env_1").created(T0).request("req_abc", "idem-1").pendingWebhooks(2));
      assertThat(event.getId()).isEqualTo("evt_env_1");
      assertThat(event.getCreated()).isEqualTo(T0.getEpochSecond());
      assertThat(event.getApiVersion()).isEqualTo(com.stripe.Stripe.API_VERSION);
      assertThat(event.getLivemode()).isFalse();
      assertThat(event.getPendingWebhooks()).isEqualTo(2L);
      assertThat(event.getRequest().getId()).isEqualTo("req_abc");
      assertThat(event.getRequest().getIdempotencyKey()).isEqualTo("idem-1");
      assertThat(event.getData().getPreviousAttributes()).containsEntry("status", "active");
    }

    @Test
    @DisplayName("subscription events: items with prices (licensed and metered) and their periods, status, trial, cancellation, metadata")
    void subscriptions() throws Exception {
      Instant end = T0.plus(30, ChronoUnit.DAYS);
      StripeObjects.Subscription built = StripeObjects.subscription().customer("cus_sub").licensedItem("price_seat", 3)
          .meteredItem("price_tokens").period(T0, end).metadata("tollgate_account_id", "42");
      Subscription created = object(viaStripe(built.createdEvent()), Subscription.class);
      assertThat(created.getId()).startsWith("sub_");
      assertThat(created.getCustomer()).isEqualTo("cus_sub");
      assertThat(created.getStatus()).isEqualTo("active");
      assertThat(created.getMetadata()).containsEntry("tollgate_account_id", "42");
      List<SubscriptionItem> items = created.getItems().getData();
      assertThat(items).extracting(i -> i.getPrice().getRecurring().getUsageType()).containsExactly("licensed", "metered");
      assertThat(items).extracting(SubscriptionItem::getQuantity).containsExactly(3L, null);
      assertThat(items).allSatisfy(i -> {
        assertThat(i.getId()).startsWith("si_");
        assertThat(i.getCurrentPeriodStart()).isEqualTo(T0.getEpochSecond());
        assertThat(i.getCurrentPeriodEnd()).isEqualTo(end.getEpochSecond());
      });
      JsonObject raw = built.json();
      assertThat(raw.getLong("current_period_end")).as("older API versions' top-level period").isEqualTo(end.getEpochSecond());

      Subscription trial = object(viaStripe(StripeObjects.subscription().trial(T0, T0.plus(14, ChronoUnit.DAYS)).trialWillEndEvent()),
          Subscription.class);
      assertThat(trial.getStatus()).isEqualTo("trialing");
      assertThat(trial.getTrialEnd()).isEqualTo(T0.plus(14, ChronoUnit.DAYS).getEpochSecond());

      Subscription ending = object(viaStripe(built.cancelAtPeriodEnd(true).updatedEvent(new JsonObject().put("cancel_at_period_end", false))),
          Subscription.class);
      assertThat(ending.getCancelAtPeriodEnd()).isTrue();
      assertThat(ending.getCancelAt()).isEqualTo(end.getEpochSecond());

      Subscription deleted = object(viaStripe(built.canceled(T0.plusSeconds(60)).deletedEvent()), Subscription.class);
      assertThat(deleted.getStatus()).isEqualTo("canceled");
      assertThat(deleted.getCanceledAt()).isEqualTo(T0.plusSeconds(60).getEpochSecond());
      assertThat(deleted.getEndedAt()).isEqualTo(T0.plusSeconds(60).getEpochSecond());
    }

    @Test
    @DisplayName("invoice events: the subscription under parent and at the top, amounts, reason, attempts, URLs, lines with price and period")
    void invoices() throws Exception {
      StripeObjects.Invoice built = StripeObjects.invoice().customer("cus_inv").subscription("sub_inv").billingReason("subscription_cycle")
          .period(T0.minus(30, ChronoUnit.DAYS), T0).line("price_seat", 2, 5800).amountDue(5800);
      Invoice finalized = object(viaStripe(built.status("open").finalizedEvent()), Invoice.class);
      assertThat(finalized.getStatus()).isEqualTo("open");

      Invoice paid = object(viaStripe(built.paid().paidEvent()), Invoice.class);
      assertThat(paid.getId()).startsWith("in_");
      assertThat(paid.getParent().getSubscriptionDetails().getSubscription()).isEqualTo("sub_inv");
      assertThat(built.json().getString("subscription")).isEqualTo("sub_inv");
      assertThat(paid.getStatus()).isEqualTo("paid");
      assertThat(paid.getAmountPaid()).isEqualTo(5800L).isEqualTo(paid.getAmountDue());
      assertThat(paid.getAmountRemaining()).isZero();
      assertThat(paid.getBillingReason()).isEqualTo("subscription_cycle");
      assertThat(paid.getHostedInvoiceUrl()).startsWith("https://invoice.stripe.com/");
      assertThat(paid.getInvoicePdf()).startsWith("https://pay.stripe.com/invoice/");
      assertThat(paid.getPeriodEnd()).isEqualTo(T0.getEpochSecond());
      InvoiceLineItem line = paid.getLines().getData().get(0);
      assertThat(line.getPricing().getPriceDetails().getPrice()).isEqualTo("price_seat");
      assertThat(line.getPeriod().getStart()).isEqualTo(T0.minus(30, ChronoUnit.DAYS).getEpochSecond());
      assertThat(line.getAmount()).isEqualTo(5800L);
      assertThat(built.json().getJsonObject("lines").getJsonArray("data").getJsonObject(0).getJsonObject("price").getString("id"))
          .isEqualTo("price_seat");
      assertThat(viaStripe(built.paymentSucceededEvent()).getType()).isEqualTo("invoice.payment_succeeded");

      Invoice failed = object(viaStripe(StripeObjects.invoice().customer("cus_inv").subscription("sub_inv").amountDue(5800)
          .paymentFailed(T0.plus(3, ChronoUnit.DAYS)).paymentFailedEvent()), Invoice.class);
      assertThat(failed.getStatus()).isEqualTo("open");
      assertThat(failed.getAttemptCount()).isEqualTo(1L);
      assertThat(failed.getNextPaymentAttempt()).isEqualTo(T0.plus(3, ChronoUnit.DAYS).getEpochSecond());
      assertThat(failed.getAmountRemaining()).isEqualTo(5800L);

      Invoice linked = object(viaStripe(StripeObjects.invoice().urls("https://invoice.stripe.com/i/acct_x/test_1", "https://pay.stripe.com/x.pdf")
          .finalizedEvent()), Invoice.class);
      assertThat(linked.getHostedInvoiceUrl()).isEqualTo("https://invoice.stripe.com/i/acct_x/test_1");
      assertThat(linked.getInvoicePdf()).isEqualTo("https://pay.stripe.com/x.pdf");
    }

    @Test
    @DisplayName("a meter error report as a snapshot event: a billing.meter_error_report with the meter, reason and window")
    void meterErrorReportSnapshot() throws Exception {
      StripeEvents.MeterErrorReport report = StripeEvents.meterErrorReport().meter("mtr_snap").created(T0)
          .validationWindow(T0.minusSeconds(3600), T0).error("meter_event_customer_not_found", 3, "No customer", "tg_1")
          .error("meter_event_invalid_value", 1, "Bad value", "tg_2");
      Event event = viaStripe(report.snapshotEvent());
      assertThat(event.getType()).isEqualTo("billing.meter.error_report_triggered");
      assertThat(event.getCreated()).isEqualTo(T0.getEpochSecond());
      StripeEvent ours = StripeEvent.from(new JsonObject(report.snapshotEvent().payload()));
      assertThat(ours.thin()).isFalse();
      JsonObject object = ours.object();
      assertThat(object.getString("object")).isEqualTo("billing.meter_error_report");
      assertThat(object.getJsonObject("meter").getString("id")).isEqualTo("mtr_snap");
      assertThat(object.getJsonObject("reason").getLong("error_count")).isEqualTo(4L);
      assertThat(object.getJsonObject("reason").getJsonArray("error_types")).hasSize(2);
      assertThat(object.getString("summary")).isEqualTo("There are 4 invalid events");
      assertThat(object.getLong("validation_start")).isEqualTo(T0.minusSeconds(3600).getEpochSecond());
      assertThat(object.getLong("validation_end")).isEqualTo(T0.getEpochSecond());
      assertThat(report.json().getJsonObject("data").getJsonObject("reason")).as("the thin event's full form reports the same")
          .isEqualTo(object.getJsonObject("reason"));
    }

    @Test
    @DisplayName("checkout.session.completed for a subscription and for a credit pack")
    void checkout() throws Exception {
      Session subscription = object(viaStripe(StripeObjects.checkoutSession().customer("cus_cs").account(42).subscription("sub_cs")
          .completedEvent()), Session.class);
      assertThat(subscription.getId()).startsWith("cs_test_");
      assertThat(subscription.getMode()).isEqualTo("subscription");
      assertThat(subscription.getSubscription()).isEqualTo("sub_cs");
      assertThat(subscription.getClientReferenceId()).isEqualTo("42");

      Session pack = object(viaStripe(StripeObjects.checkoutSession().customer("cus_cs").account(42).paymentIntent("pi_cs")
          .amountTotal(5000).metadata("credit_pack", "50k").completedEvent()), Session.class);
      assertThat(pack.getMode()).isEqualTo("payment");
      assertThat(pack.getPaymentIntent()).isEqualTo("pi_cs");
      assertThat(pack.getAmountTotal()).isEqualTo(5000L);
      assertThat(pack.getPaymentStatus()).isEqualTo("paid");
      assertThat(pack.getMetadata()).containsEntry("credit_pack", "50k").containsEntry("tollgate_account_id", "42");

      StripeObjects.CheckoutSession asTollgate = StripeObjects.checkoutSession().customer("cus_cs").account(42).paymentIntent("pi_cs")
          .creditPack("small", 1000).paymentStatus("unpaid");
      assertThat(object(viaStripe(asTollgate.completedEvent()), Session.class).getMetadata()).containsEntry("tollgate_kind", "credit_pack")
          .containsEntry("tollgate_pack", "small").containsEntry("tollgate_credits", "1000");
      Event async = viaStripe(asTollgate.paymentStatus("paid").asyncPaymentSucceededEvent());
      assertThat(async.getType()).isEqualTo("checkout.session.async_payment_succeeded");
      assertThat(object(async, Session.class).getPaymentStatus()).isEqualTo("paid");
      assertThat(object(viaStripe(StripeObjects.checkoutSession().account(42).subscription("sub_cs").plan("pro").completedEvent()),
          Session.class).getMetadata()).containsEntry("tollgate_kind", "subscription").containsEntry("tollgate_plan", "pro");
    }

    @Test
    @DisplayName("customer.updated, payment_method.attached and detached")
    void customerAndCards() throws Exception {
      Event updated = viaStripe(StripeObjects.customer().email("a@b.test").name("A").defaultPaymentMethod("pm_new")
          .updatedEvent(new JsonObject().put("invoice_settings", new JsonObject().put("default_payment_method", "pm_old"))));
      Customer customer = object(updated, Customer.class);
      assertThat(customer.getInvoiceSettings().getDefaultPaymentMethod()).isEqualTo("pm_new");
      assertThat(customer.getEmail()).isEqualTo("a@b.test");
      assertThat(updated.getData().getPreviousAttributes()).containsKey("invoice_settings");

      StripeObjects.PaymentMethod card = StripeObjects.paymentMethod().customer("cus_pm").card("mastercard", "4444", 3, 2031);
      PaymentMethod attached = object(viaStripe(card.attachedEvent()), PaymentMethod.class);
      assertThat(attached.getCustomer()).isEqualTo("cus_pm");
      assertThat(attached.getCard().getLast4()).isEqualTo("4444");
      assertThat(attached.getCard().getBrand()).isEqualTo("mastercard");
      assertThat(attached.getCard().getExpYear()).isEqualTo(2031L);
      Event detachedEvent = viaStripe(card.detachedEvent());
      assertThat(object(detachedEvent, PaymentMethod.class).getCustomer()).isNull();
      assertThat(detachedEvent.getData().getPreviousAttributes()).containsEntry("customer", "cus_pm");
    }

    @Test
    @DisplayName("payment_intent.succeeded and payment_failed with Stripe's last_payment_error")
    void paymentIntents() throws Exception {
      PaymentIntent ok = object(viaStripe(StripeObjects.paymentIntent().customer("cus_pi").amount(2500).metadata("topup", "t1")
          .succeededEvent()), PaymentIntent.class);
      assertThat(ok.getStatus()).isEqualTo("succeeded");
      assertThat(ok.getAmountReceived()).isEqualTo(2500L);
      assertThat(ok.getMetadata()).containsEntry("topup", "t1");

      PaymentIntent failed = object(viaStripe(StripeObjects.paymentIntent().customer("cus_pi").paymentMethod("pm_1").amount(2500)
          .failed("card_declined", "insufficient_funds", "Your card has insufficient funds.").paymentFailedEvent()), PaymentIntent.class);
      assertThat(failed.getStatus()).isEqualTo("requires_payment_method");
      assertThat(failed.getAmountReceived()).isZero();
      assertThat(failed.getLastPaymentError().getCode()).isEqualTo("card_declined");
      assertThat(failed.getLastPaymentError().getDeclineCode()).isEqualTo("insufficient_funds");
    }
  }

  @Nested
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  @DisplayName("FakeStripe's own events")
  class FromTheFake {

    private Vertx vertx;
    private FakeStripe stripe;
    private StripeClient client;

    @BeforeAll
    void start() throws Exception {
      vertx = Vertx.vertx();
      stripe = new FakeStripe(vertx, API_KEY).start().await(10, TimeUnit.SECONDS);
      client = StripeClient.builder().setApiKey(API_KEY).setApiBase(stripe.baseUrl()).setMaxNetworkRetries(0).build();
    }

    @AfterAll
    void stop() throws Exception {
      stripe.close().await(10, TimeUnit.SECONDS);
      vertx.close().await(10, TimeUnit.SECONDS);
    }

    private String subscribed(String customer) throws Exception {
      com.stripe.model.checkout.Session session = client.v1().checkout().sessions().create(
          com.stripe.param.checkout.SessionCreateParams.builder().setCustomer(customer)
              .setMode(com.stripe.param.checkout.SessionCreateParams.Mode.SUBSCRIPTION)
              .addLineItem(com.stripe.param.checkout.SessionCreateParams.LineItem.builder().setPrice("price_seat_fake").setQuantity(2L).build())
              .setSuccessUrl("https://app.test/ok").build());
      return stripe.completeCheckout(session.getId()).get(0).getJsonObject("data").getJsonObject("object").getString("id");
    }

    @Test
    @DisplayName("a renewal bills the next period; with a declined card the subscription goes past_due and the invoice fails")
    void renewals() throws Exception {
      String customer = client.v1().customers().create(com.stripe.param.CustomerCreateParams.builder().setName("R").build()).getId();
      String subscription = subscribed(customer);
      Instant firstEnd = Instant.ofEpochSecond(stripe.subscription(subscription).orElseThrow().getLong("current_period_end"));

      List<JsonObject> paid = stripe.renewSubscription(subscription);
      assertThat(paid).extracting(e -> e.getString("type")).containsExactly("customer.subscription.updated", "invoice.finalized", "invoice.paid");
      Subscription renewed = client.v1().subscriptions().retrieve(subscription);
      assertThat(renewed.getItems().getData().get(0).getCurrentPeriodStart()).isEqualTo(firstEnd.getEpochSecond());
      assertThat(paid.get(0).getJsonObject("data").getJsonObject("previous_attributes").getLong("current_period_end"))
          .isEqualTo(firstEnd.getEpochSecond());
      assertThat(paid.get(2).getJsonObject("data").getJsonObject("object").getLong("amount_paid")).isEqualTo(2000L);

      stripe.cardOutcome(customer, CardOutcome.DECLINE);
      List<JsonObject> failed = stripe.renewSubscription(subscription);
      assertThat(failed).extracting(e -> e.getString("type"))
          .containsExactly("customer.subscription.updated", "invoice.finalized", "invoice.payment_failed");
      assertThat(failed.get(0).getJsonObject("data").getJsonObject("object").getString("status")).isEqualTo("past_due");
      assertThat(failed.get(0).getJsonObject("data").getJsonObject("previous_attributes").getString("status")).isEqualTo("active");
      assertThat(client.v1().subscriptions().retrieve(subscription).getStatus()).isEqualTo("past_due");
      assertThat(stripe.invoices(customer)).hasSize(3);

      List<JsonObject> canceled = stripe.cancelSubscription(subscription);
      assertThat(canceled).extracting(e -> e.getString("type")).containsExactly("customer.subscription.deleted");
      assertThat(client.v1().subscriptions().retrieve(subscription).getStatus()).isEqualTo("canceled");
    }

    @Test
    @DisplayName("a session completes once; events of API calls carry the request's idempotency key; all come in order from eventsSince")
    void eventLog() throws Exception {
      int mark = stripe.eventCount();
      String customer = client.v1().customers().create(com.stripe.param.CustomerCreateParams.builder().setName("L").build(),
          com.stripe.net.RequestOptions.builder().setIdempotencyKey("cust-log-1").build()).getId();
      String card = stripe.attachCard(customer, true);
      List<JsonObject> log = stripe.eventsSince(mark);
      assertThat(log).extracting(e -> e.getString("type")).containsExactly("customer.created", "payment_method.attached", "customer.updated");
      assertThat(log.get(0).getJsonObject("request").getString("idempotency_key")).isEqualTo("cust-log-1");
      assertThat(log.get(1).getJsonObject("request").getValue("id")).isNull();
      assertThat(log.get(2).getJsonObject("data").getJsonObject("object").getJsonObject("invoice_settings").getString("default_payment_method"))
          .isEqualTo(card);
      for (JsonObject e : log) {
        assertThat(Webhook.constructEvent(e.encode(), StripeSignature.header(e.encode(), SECRET, Instant.now().getEpochSecond()), SECRET)
            .getDataObjectDeserializer().getObject()).isPresent();
      }

      com.stripe.model.checkout.Session session = client.v1().checkout().sessions().create(
          com.stripe.param.checkout.SessionCreateParams.builder().setCustomer(customer)
              .setMode(com.stripe.param.checkout.SessionCreateParams.Mode.PAYMENT)
              .addLineItem(com.stripe.param.checkout.SessionCreateParams.LineItem.builder().setPrice("price_pack_fake").setQuantity(1L).build())
              .setSuccessUrl("https://app.test/ok").build());
      stripe.completeCheckout(session.getId());
      assertThat(client.v1().checkout().sessions().retrieve(session.getId()).getStatus()).isEqualTo("complete");
      assertThatThrownBy(() -> stripe.completeCheckout(session.getId())).isInstanceOf(IllegalStateException.class);
    }

    @Test
    @DisplayName("a meter error report arrives as a v2 thin notification that stripe-java parses and fetches the full event for")
    void meterErrorReport() throws Exception {
      JsonObject notification = stripe.reportMeterErrors(StripeEvents.meterErrorReport().meter("mtr_test_tokens")
          .error("meter_event_customer_not_found", 3, "No customer found for cus_gone", "batch-7:cus_gone:tokens"));
      String payload = notification.encode();
      EventNotification parsed = client.parseEventNotification(payload,
          StripeSignature.header(payload, SECRET, Instant.now().getEpochSecond()), SECRET);
      assertThat(parsed).isInstanceOf(V1BillingMeterErrorReportTriggeredEventNotification.class);
      V1BillingMeterErrorReportTriggeredEventNotification report = (V1BillingMeterErrorReportTriggeredEventNotification) parsed;
      assertThat(report.getRelatedObject().getId()).isEqualTo("mtr_test_tokens");
      V1BillingMeterErrorReportTriggeredEvent full = report.fetchEvent();
      // stripe-java 33.3 gives Reason and ErrorType no getters: the counts and samples are only in the JSON.
      assertThat(full.getData().getReason()).isNotNull();
      assertThat(full.getData().getDeveloperMessageSummary()).isEqualTo("There are 3 invalid events");
      assertThat(full.getId()).isEqualTo(notification.getString("id"));
      assertThat(full.getData().getValidationEnd()).isNotNull();
      assertThat(notification.containsKey("data")).as("thin: no data").isFalse();
    }
  }
}
