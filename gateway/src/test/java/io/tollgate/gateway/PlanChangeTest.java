package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.FakeStripe;
import io.tollgate.stripesync.fake.StripeIds;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Subscription lifecycle through Stripe: a prorated plan change (refused on a declined card), one live subscription, cancel and resume, refunded invoices")
class PlanChangeTest {

  private static final String STRIPE_KEY = "sk_test_planchange_0123456789";
  private static final String SECRET = "whsec_planchange_0123456789";
  /** The base fees in cents and included credits, as the configuration below states them. */
  private static final long PRO_FEE = 2000;
  private static final long TEAM_FEE = 5000;
  private static final long PRO_CREDITS = 1000;
  private static final long TEAM_CREDITS = 5000;
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static FakeStripe stripe;
  private static Tollgate gateway;
  private static Webhooks webhooks;
  private static Pool pg;

  @BeforeAll
  static void start() {
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
    stripe.definePrice(StripeObjects.price("price_pro").licensed().unitAmount(PRO_FEE));
    stripe.definePrice(StripeObjects.price("price_team").licensed().unitAmount(TEAM_FEE));
    stripe.definePrice(StripeObjects.price("price_pro_calls").metered("mtr_calls").unitAmount(1));
    stripe.definePrice(StripeObjects.price("price_team_calls").metered("mtr_calls").unitAmount(1));
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /flat/, upstream: "%s/v1/", flatCost: 100 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
          pro: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: %d, stripePrices: [price_pro, price_pro_calls] }
          team: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: %d, stripePrices: [price_team, price_team_calls] }
        billing:
          checkoutSuccessUrl: https://app.example.com/billing/done
          checkoutCancelUrl: https://app.example.com/billing
        metering: { flushIntervalMs: 50 }
        stripe: { apiBase: "%s", meterEventsBase: "%s", syncIntervalMs: 3600000 }
        """.formatted(harness.stubBase(), PRO_CREDITS, TEAM_CREDITS, stripe.baseUrl(), stripe.baseUrl()),
        Map.of("STRIPE_API_KEY", STRIPE_KEY, "STRIPE_WEBHOOK_SECRET", SECRET));
    webhooks = new Webhooks(vertx, gateway, SECRET);
    pg = GatewayHarness.postgres(vertx);
  }

  @AfterAll
  static void stop() throws Exception {
    pg.close().await(10, TimeUnit.SECONDS);
    gateway.close();
    await(stripe.close());
  }

  private static HttpTestClient.Reply admin(HttpMethod method, String uri, JsonObject body) {
    return GatewayHarness.adminCall(gateway, vertx, method, uri, body);
  }

  private static JsonObject processed(JsonObject event) {
    JsonObject done = webhooks.deliverAndWait(event);
    assertThat(done.getString("status")).as(event.getString("type") + ": " + done.getString("lastError")).isEqualTo("processed");
    return done;
  }

  /** Included credits granted this period, in credits (the ledger keeps millicredits). */
  private static long included(long account) {
    return GatewayHarness.count(pg, "SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'period_grant'",
        account) / io.tollgate.config.Credits.UNITS_PER_CREDIT;
  }

  private static String plan(long account) {
    return admin(HttpMethod.GET, "/admin/v1/accounts/" + account, null).json().getString("plan");
  }

  private static JsonObject event(List<JsonObject> events, String type) {
    return events.stream().filter(e -> e.getString("type").equals(type)).findFirst()
        .orElseThrow(() -> new AssertionError("no " + type + " among " + events.stream().map(e -> e.getString("type")).toList()));
  }

  /** A subscribed pro account: Checkout completed with the fake's clock fixed at {@code start}, every event delivered. */
  private record Subscribed(long account, String customer, String subscription, Instant periodStart, Instant periodEnd,
                            List<JsonObject> events) {
  }

  private static Subscribed subscribe(String name) {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", name));
    // A second ahead, so the subscription's first period starts after the account was created (and replaces its period).
    Instant start = Instant.now().truncatedTo(ChronoUnit.SECONDS).plusSeconds(1);
    stripe.clock(Clock.fixed(start, ZoneOffset.UTC));
    JsonObject session = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout", new JsonObject().put("plan", "pro")).json();
    List<JsonObject> events = stripe.completeCheckout(session.getString("id"));
    events.forEach(PlanChangeTest::processed);
    assertThat(plan(account)).isEqualTo("pro");
    String sub = event(events, "customer.subscription.created").getJsonObject("data").getJsonObject("object").getString("id");
    JsonObject stored = stripe.subscription(sub).orElseThrow();
    Instant end = Instant.ofEpochSecond(stored.getLong("current_period_end"));
    return new Subscribed(account, session.getString("stripeCustomerId"), sub, start, end, events);
  }

  /** The middle of the period: the prorations are exactly half of each fee. */
  private static Instant halfway(Subscribed s) {
    return s.periodStart().plusSeconds((s.periodEnd().getEpochSecond() - s.periodStart().getEpochSecond()) / 2);
  }

  @Test
  @DisplayName("Upgrade: the preview prorates half of each fee; a declined card changes nothing; the paid change moves the plan and tops up its credits, in any order, once")
  void upgrade() {
    Subscribed s = subscribe("upgrader");
    assertThat(included(s.account())).isEqualTo(PRO_CREDITS);
    Instant half = halfway(s);

    JsonObject preview = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/plan-change/preview",
        new JsonObject().put("plan", "team").put("prorationDate", half.toString())).json();
    // Half a month of pro credited (-1000), half a month of team charged (+2500).
    assertThat(preview.getLong("amountDue")).isEqualTo(TEAM_FEE / 2 - PRO_FEE / 2);
    assertThat(preview.getString("currentPlan")).isEqualTo("pro");
    assertThat(preview.getString("prorationDate")).isEqualTo(half.toString());
    JsonArray lines = preview.getJsonArray("lines");
    assertThat(lines.stream().map(l -> ((JsonObject) l).getLong("amount")).toList()).containsExactlyInAnyOrder(-PRO_FEE / 2, TEAM_FEE / 2);
    assertThat(lines.stream().allMatch(l -> ((JsonObject) l).getBoolean("proration"))).isTrue();
    assertThat(stripe.subscription(s.subscription()).orElseThrow().encode()).as("a preview changes nothing").doesNotContain("price_team");

    // A declined card: Stripe refuses the update, and nothing changes on either side.
    stripe.cardOutcome(s.customer(), FakeStripe.CardOutcome.DECLINE);
    int mark = stripe.eventCount();
    HttpTestClient.Reply declined = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/plan-change",
        new JsonObject().put("plan", "team").put("prorationDate", half.toString()));
    assertThat(declined.status()).isEqualTo(402);
    assertThat(declined.json().getString("type")).endsWith("/card-declined");
    assertThat(declined.json().getString("detail")).contains("card_declined").contains("unchanged");
    assertThat(stripe.eventsSince(mark)).isEmpty();
    assertThat(stripe.subscription(s.subscription()).orElseThrow().encode()).doesNotContain("price_team");
    assertThat(plan(s.account())).isEqualTo("pro");

    stripe.cardOutcome(s.customer(), FakeStripe.CardOutcome.SUCCEED);
    mark = stripe.eventCount();
    JsonObject changed = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/plan-change",
        new JsonObject().put("plan", "team").put("prorationDate", half.toString())).json();
    assertThat(changed.getJsonObject("subscription").getJsonArray("prices").getList()).containsExactlyInAnyOrder("price_team", "price_team_calls");
    List<JsonObject> events = stripe.eventsSince(mark);
    JsonObject paid = event(events, "invoice.paid");
    assertThat(paid.getJsonObject("data").getJsonObject("object").getLong("amount_paid")).isEqualTo(TEAM_FEE / 2 - PRO_FEE / 2);

    // Out of order: the invoice of the change before the subscription's update (its state is fetched from Stripe).
    processed(paid);
    assertThat(plan(s.account())).isEqualTo("team");
    assertThat(included(s.account())).as("topped up to team's included credits").isEqualTo(TEAM_CREDITS);
    processed(event(events, "customer.subscription.updated"));
    processed(event(events, "invoice.finalized"));
    // Duplicates change nothing.
    for (JsonObject e : events) {
      processed(e);
    }
    // The first invoice's invoice.payment_succeeded, late: the plan it billed is not brought back.
    JsonObject late = event(s.events(), "invoice.paid").copy().put("id", StripeIds.next("evt")).put("type", "invoice.payment_succeeded");
    assertThat(processed(late).getString("outcome")).contains("no longer holds");
    assertThat(plan(s.account())).isEqualTo("team");
    assertThat(included(s.account())).isEqualTo(TEAM_CREDITS);
    JsonObject status = admin(HttpMethod.GET, "/admin/v1/accounts/" + s.account() + "/subscription", null).json();
    assertThat(status.getJsonObject("subscription").getJsonArray("prices").getList()).containsExactlyInAnyOrder("price_team", "price_team_calls");
  }

  @Test
  @DisplayName("Downgrade: the preview is a credit with nothing due; the plan moves down and the period's credits stay")
  void downgrade() {
    Subscribed s = subscribe("downgrader");
    Instant half = halfway(s);
    int mark = stripe.eventCount();
    admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/plan-change", new JsonObject().put("plan", "team")
        .put("prorationDate", half.toString())).json();
    stripe.eventsSince(mark).forEach(PlanChangeTest::processed);
    assertThat(plan(s.account())).isEqualTo("team");

    Instant later = half.plus(1, ChronoUnit.DAYS);
    long remaining = s.periodEnd().getEpochSecond() - later.getEpochSecond();
    long period = s.periodEnd().getEpochSecond() - s.periodStart().getEpochSecond();
    JsonObject preview = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/plan-change/preview",
        new JsonObject().put("plan", "pro").put("prorationDate", later.toString())).json();
    long credit = -Math.round(TEAM_FEE * (double) remaining / period);
    long charge = Math.round(PRO_FEE * (double) remaining / period);
    assertThat(preview.getLong("total")).isEqualTo(credit + charge).isNegative();
    assertThat(preview.getLong("amountDue")).isZero();

    mark = stripe.eventCount();
    assertThat(admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/plan-change", new JsonObject().put("plan", "pro")
        .put("prorationDate", later.toString())).status()).isEqualTo(200);
    List<JsonObject> events = stripe.eventsSince(mark);
    processed(event(events, "customer.subscription.updated"));
    processed(event(events, "invoice.paid"));
    processed(event(events, "customer.subscription.updated"));
    assertThat(plan(s.account())).isEqualTo("pro");
    assertThat(included(s.account())).as("included credits granted this period are kept").isEqualTo(TEAM_CREDITS);

    HttpTestClient.Reply same = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/plan-change/preview",
        new JsonObject().put("plan", "pro").put("prorationDate", later.toString()));
    assertThat(same.status()).isEqualTo(409);
    assertThat(same.json().getString("type")).endsWith("/plan-unchanged");
    HttpTestClient.Reply free = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/plan-change", new JsonObject().put("plan", "free"));
    assertThat(free.status()).isEqualTo(400);
    assertThat(free.json().getString("detail")).contains("subscription/cancel");
    HttpTestClient.Reply outside = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/plan-change/preview",
        new JsonObject().put("plan", "team").put("prorationDate", s.periodEnd().plusSeconds(1).toString()));
    assertThat(outside.status()).isEqualTo(400);
    assertThat(outside.json().getString("detail")).contains("prorationDate");
  }

  @Test
  @DisplayName("One live subscription per account: a second Checkout is refused naming the first, also before its events arrived; a local PATCH of the plan is refused")
  void oneLiveSubscription() {
    Subscribed s = subscribe("single subscriber");
    HttpTestClient.Reply second = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/checkout", new JsonObject().put("plan", "team"));
    assertThat(second.status()).isEqualTo(409);
    assertThat(second.json().getString("type")).endsWith("/subscription-exists");
    assertThat(second.json().getString("detail")).contains(s.subscription()).contains("plan-change");

    // Completed in Stripe, its events not delivered yet: Stripe's own list refuses the second one.
    long fresh = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "fast double click"));
    JsonObject session = admin(HttpMethod.POST, "/admin/v1/accounts/" + fresh + "/checkout", new JsonObject().put("plan", "pro")).json();
    List<JsonObject> pending = stripe.completeCheckout(session.getString("id"));
    String sub = event(pending, "customer.subscription.created").getJsonObject("data").getJsonObject("object").getString("id");
    int sessions = stripe.checkoutSessions();
    HttpTestClient.Reply again = admin(HttpMethod.POST, "/admin/v1/accounts/" + fresh + "/checkout", new JsonObject().put("plan", "pro"));
    assertThat(again.status()).isEqualTo(409);
    assertThat(again.json().getString("detail")).contains(sub);
    assertThat(stripe.checkoutSessions()).isEqualTo(sessions);

    HttpTestClient.Reply patch = admin(HttpMethod.PATCH, "/admin/v1/accounts/" + s.account(), new JsonObject().put("plan", "team"));
    assertThat(patch.status()).isEqualTo(409);
    assertThat(patch.json().getString("detail")).contains(s.subscription()).contains("/plan-change");
    assertThat(plan(s.account())).isEqualTo("pro");
    // Other fields still change locally.
    assertThat(admin(HttpMethod.PATCH, "/admin/v1/accounts/" + s.account(), new JsonObject().put("name", "renamed")).status()).isEqualTo(200);
  }

  @Test
  @DisplayName("Cancel at period end and resume go to Stripe; the account shows them once Stripe's events arrive, and keeps its plan")
  void cancelAndResume() {
    Subscribed s = subscribe("canceller");
    int mark = stripe.eventCount();
    JsonObject canceled = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/subscription/cancel", null).json();
    assertThat(canceled.getJsonObject("subscription").getBoolean("cancelAtPeriodEnd")).isTrue();
    assertThat(stripe.subscription(s.subscription()).orElseThrow().getBoolean("cancel_at_period_end")).isTrue();
    List<JsonObject> cancelEvents = stripe.eventsSince(mark);
    cancelEvents.forEach(PlanChangeTest::processed);
    JsonObject status = admin(HttpMethod.GET, "/admin/v1/accounts/" + s.account() + "/subscription", null).json();
    assertThat(status.getJsonObject("subscription").getBoolean("cancelAtPeriodEnd")).isTrue();
    assertThat(status.getString("plan")).isEqualTo("pro");

    // Cancel again and resume a minute later; Stripe delivers the resumption first.
    stripe.clock(Clock.fixed(s.periodStart().plusSeconds(60), ZoneOffset.UTC));
    admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/subscription/resume", null);
    mark = stripe.eventCount();
    stripe.clock(Clock.fixed(s.periodStart().plusSeconds(120), ZoneOffset.UTC));
    admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/subscription/cancel", null);
    List<JsonObject> recancel = stripe.eventsSince(mark);
    mark = stripe.eventCount();
    stripe.clock(Clock.fixed(s.periodStart().plusSeconds(180), ZoneOffset.UTC));
    JsonObject resumed = admin(HttpMethod.POST, "/admin/v1/accounts/" + s.account() + "/subscription/resume", null).json();
    assertThat(resumed.getJsonObject("subscription").getBoolean("cancelAtPeriodEnd")).isFalse();
    List<JsonObject> resumeEvents = stripe.eventsSince(mark);
    assertThat(resumeEvents).hasSize(1);
    assertThat(recancel).hasSize(1);
    processed(resumeEvents.get(0));
    assertThat(processed(recancel.get(0)).getString("outcome")).startsWith("ignored: older than");
    processed(resumeEvents.get(0));
    status = admin(HttpMethod.GET, "/admin/v1/accounts/" + s.account() + "/subscription", null).json();
    assertThat(status.getJsonObject("subscription").getBoolean("cancelAtPeriodEnd")).isFalse();
    assertThat(status.getString("plan")).isEqualTo("pro");

    long none = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "no subscription"));
    HttpTestClient.Reply nothing = admin(HttpMethod.POST, "/admin/v1/accounts/" + none + "/subscription/cancel", null);
    assertThat(nothing.status()).isEqualTo(409);
    assertThat(nothing.json().getString("type")).endsWith("/no-live-subscription");
  }

  private static List<JsonObject> notices(long account, String kind) {
    return admin(HttpMethod.GET, "/admin/v1/notifications?accountId=" + account, null).json().getJsonArray("data").stream()
        .map(JsonObject.class::cast).filter(n -> n.getString("kind").equals(kind)).toList();
  }

  private static JsonObject invoiceRow(long account, String invoiceId) {
    return admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/invoices", null).json().getJsonArray("data").stream()
        .map(JsonObject.class::cast).filter(i -> i.getString("id").equals(invoiceId)).findFirst().orElseThrow();
  }

  @Test
  @DisplayName("A refunded subscription invoice is recorded on the invoice, once per refunded amount, and the operator notified; plan and credits stay")
  void refundedInvoice() {
    Subscribed s = subscribe("refunded subscriber");
    JsonObject invoice = event(s.events(), "invoice.paid").getJsonObject("data").getJsonObject("object");
    String invoiceId = invoice.getString("id");
    assertThat(invoice.getLong("amount_paid")).isEqualTo(PRO_FEE);
    String pi = stripe.invoicePaymentIntent(invoiceId);
    long spendable = admin(HttpMethod.GET, "/admin/v1/accounts/" + s.account(), null).json().getJsonObject("credits").getLong("spendable");

    StripeObjects.Charge charge = StripeObjects.charge(pi).customer(s.customer()).amount(PRO_FEE).refundedSoFar(500);
    JsonObject partial = charge.refundedEvent().created(Instant.now()).json();
    assertThat(processed(partial).getString("outcome")).contains("500 of 2000").contains("plan and credits unchanged");
    assertThat(invoiceRow(s.account(), invoiceId).getLong("amountRefunded")).isEqualTo(500);
    assertThat(invoiceRow(s.account(), invoiceId).getString("refundedAt")).isNotNull();
    List<JsonObject> notes = notices(s.account(), "invoice_refunded");
    assertThat(notes).hasSize(1);
    assertThat(notes.get(0).getJsonObject("data").getString("invoiceId")).isEqualTo(invoiceId);
    assertThat(notes.get(0).getJsonObject("data").getLong("amountRefunded")).isEqualTo(500);
    processed(partial);

    // The rest refunded later; then the first refund's event again under another delivery: old news.
    JsonObject full = charge.refundedSoFar(PRO_FEE).refundedEvent().created(Instant.now()).json();
    processed(full);
    assertThat(invoiceRow(s.account(), invoiceId).getLong("amountRefunded")).isEqualTo(PRO_FEE);
    JsonObject stale = partial.copy().put("id", StripeIds.next("evt"));
    assertThat(processed(stale).getString("outcome")).contains("already recorded");
    assertThat(invoiceRow(s.account(), invoiceId).getLong("amountRefunded")).isEqualTo(PRO_FEE);
    assertThat(notices(s.account(), "invoice_refunded")).hasSize(2);
    assertThat(plan(s.account())).isEqualTo("pro");
    assertThat(admin(HttpMethod.GET, "/admin/v1/accounts/" + s.account(), null).json().getJsonObject("credits").getLong("spendable"))
        .isEqualTo(spendable);

    // A payment that paid no invoice and bought no credits: acknowledged, nothing recorded.
    JsonObject other = StripeObjects.charge(StripeIds.next("pi")).customer(s.customer()).refundedSoFar(1000).refundedEvent()
        .created(Instant.now()).json();
    assertThat(processed(other).getString("outcome")).startsWith("ignored:").contains("paid no invoice");
  }
}
