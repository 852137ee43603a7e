package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.tollgate.stripesync.fake.StripeEvents;
import io.tollgate.stripesync.fake.StripeIds;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Stripe webhooks move plans, statuses, periods and credits, and the hot path follows within seconds")
class BillingWebhooksTest {

  static final String SECRET = "whsec_test_billing_0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static Webhooks webhooks;
  private static Pool pg;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /v1/, upstream: "%s/v1/", usage: openai }
          - { prefix: /batch/, upstream: "%s/v1/", flatCost: 1, feature: batch }
        pricing:
          default: { input: 1000, output: 1000 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 100, models: [gpt-4o-mini] }
          pro:
            requestsPerMinute: 0
            tokensPerMinute: 0
            includedCredits: 5000
            stripePrices: [price_pro, price_pro_meter]
            features: [batch]
          payg: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0, overage: bill }
        billing:
          gracePeriodDays: 1
          webhookMaxAttempts: 2
          webhookRetryBaseMs: 50
          creditPacks:
            small: { credits: 1000, stripePrice: price_small, amount: 500 }
        metering: { flushIntervalMs: 50 }
        """.formatted(harness.stubBase(), harness.stubBase()), Map.of("STRIPE_WEBHOOK_SECRET", "whsec_other_secret," + SECRET));
    webhooks = new Webhooks(vertx, gateway, SECRET);
    pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
  }

  @AfterAll
  static void stop() throws Exception {
    pg.close().await(10, TimeUnit.SECONDS);
    gateway.close();
  }

  private static HttpTestClient.Reply admin(HttpMethod method, String uri, JsonObject body) {
    return await(GatewayHarness.admin(vertx).send(method, gateway.adminPort(), uri, GatewayHarness.adminHeaders(),
        body == null ? null : body.toBuffer()));
  }

  private static long account(String name) {
    return GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", name).put("initialCredits", 100_000));
  }

  private static String key(long account) {
    return GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
  }

  private static HttpTestClient.Reply chat(String key, String model) {
    return await(new HttpTestClient(vertx, false, key).send(HttpMethod.POST, gateway.proxyPort(), "/v1/chat/completions",
        GatewayHarness.bearer(key).add("content-type", "application/json"),
        new JsonObject().put("model", model).put("max_tokens", 10)
            .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi"))).toBuffer()));
  }

  private static HttpTestClient.Reply batch(String key) {
    return await(new HttpTestClient(vertx, false, key).send(HttpMethod.GET, gateway.proxyPort(), "/batch/models",
        GatewayHarness.bearer(key), null));
  }

  /** Polls until the condition holds (the hot path follows a plan change through the key caches). */
  private static void eventually(String what, Supplier<Boolean> condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 10 s: " + what);
      }
      await(vertx.timer(25));
    }
  }

  private static JsonObject accountJson(long id) {
    return admin(HttpMethod.GET, "/admin/v1/accounts/" + id, null).json();
  }

  private static JsonObject status(long id) {
    return admin(HttpMethod.GET, "/admin/v1/accounts/" + id + "/subscription", null).json();
  }

  private static long sumLedger(long account, String kind) {
    Row r = await(pg.preparedQuery("SELECT coalesce(sum(amount), 0) AS total FROM credit_transactions WHERE account_id = $1 AND kind = $2")
        .execute(Tuple.of(account, kind))).iterator().next();
    return r.getLong("total");
  }

  private static long count(String sql, Object... args) {
    return await(pg.preparedQuery(sql).execute(Tuple.from(args))).iterator().next().getLong(0);
  }

  /**
   * A subscription to plan pro from {@code start} to {@code end}: the base fee and, if asked, the
   * metered price; named to the account in its metadata as Tollgate's Checkout does (unless {@code null}).
   */
  private static StripeObjects.Subscription pro(String id, String customer, Long account, Instant start, Instant end, boolean metered) {
    StripeObjects.Subscription sub = StripeObjects.subscription().id(id).created(start).set("start_date", start.getEpochSecond())
        .set("billing_cycle_anchor", start.getEpochSecond()).customer(customer).period(start, end).licensedItem("price_pro", 1);
    if (metered) {
      sub.meteredItem("price_pro_meter");
    }
    return account == null ? sub : sub.metadata("tollgate_account_id", Long.toString(account)).metadata("tollgate_plan", "pro");
  }

  /**
   * Plan pro's invoice of 20.00 USD, created at {@code start}, billing {@code start}–{@code end} on its
   * line; its URLs name it, so that the cached copy can be told apart.
   */
  private static StripeObjects.Invoice proInvoice(String id, String customer, String sub, String reason, Instant start, Instant end) {
    return StripeObjects.invoice().id(id).created(start).customer(customer).subscription(sub).billingReason(reason)
        .period("subscription_create".equals(reason) ? start : start.minus(30, ChronoUnit.DAYS), start)
        .line(StripeObjects.price("price_pro").unitAmount(2000), 1L, 2000, start, end).amountDue(2000)
        .urls("https://invoice.stripe.com/i/acct_test/" + id, "https://pay.stripe.com/invoice/acct_test/" + id + "/pdf");
  }

  @Test
  @DisplayName("signature: valid is stored and answered 200 at once; forged, expired, missing and tampered get 400 and store nothing; a replay is a no-op")
  void signatures() {
    JsonObject e = StripeObjects.customer().email("a@example.com").createdEvent().created(Instant.now()).json();
    String body = e.encode();
    long now = Instant.now().getEpochSecond();

    HttpTestClient.Reply forged = webhooks.post(body, Webhooks.sign(body, "whsec_forged", now));
    assertThat(forged.status()).isEqualTo(400);
    assertThat(forged.json().getString("detail")).contains("no v1 signature");
    HttpTestClient.Reply expired = webhooks.post(body, Webhooks.sign(body, SECRET, now - 3_600));
    assertThat(expired.status()).isEqualTo(400);
    assertThat(expired.json().getString("detail")).contains("more than 300 s away");
    assertThat(webhooks.post(body, null).json().getString("detail")).isEqualTo("the Stripe-Signature header is missing");
    assertThat(webhooks.post(body.replace("a@example.com", "b@example.com"), Webhooks.sign(body, SECRET, now)).status()).isEqualTo(400);
    assertThat(webhooks.stored(e.getString("id"))).as("nothing stored for a refused delivery").isNull();
    for (HttpTestClient.Reply r : new HttpTestClient.Reply[] {forged, expired}) {
      assertThat(r.text()).doesNotContain(SECRET);
    }

    HttpTestClient.Reply ok = webhooks.post(body, Webhooks.sign(body, SECRET, now));
    assertThat(ok.status()).isEqualTo(200);
    assertThat(ok.json().getBoolean("duplicate")).isFalse();
    JsonObject done = webhooks.awaitDone(e.getString("id"));
    assertThat(done.getString("status")).isEqualTo("processed");
    assertThat(done.getString("outcome")).startsWith("ignored: Tollgate does not act on customer.created");

    HttpTestClient.Reply replay = webhooks.post(body, Webhooks.sign(body, SECRET, now));
    assertThat(replay.status()).isEqualTo(200);
    assertThat(replay.json().getBoolean("duplicate")).isTrue();
    assertThat(count("SELECT count(*) FROM stripe_events WHERE id = $1", e.getString("id"))).isEqualTo(1);
    assertThat(webhooks.stored(e.getString("id")).getInteger("attempts")).as("processed once").isEqualTo(1);

    assertThat(await(new HttpTestClient(vertx).get(gateway.proxyPort(), "/webhooks/stripe")).status()).isEqualTo(405);
    assertThat(webhooks.post("x".repeat(1024 * 1024 + 1), "t=1,v1=00").status()).isEqualTo(413);
    assertThat(gateway.registry().get("tollgate_stripe_webhooks_received").tag("result", "refused_bad_signature").counter().count())
        .isGreaterThanOrEqualTo(2);
  }

  @Test
  @DisplayName("subscribe: the plan's models and features open on the hot path, its period credits are granted once per invoice")
  void subscriptionStartsPlan() {
    long account = account("subscriber");
    String key = key(account);
    assertThat(chat(key, "gpt-4o").json().getJsonObject("error").getString("code")).isEqualTo("model_not_in_plan");
    assertThat(batch(key).json().getJsonObject("error").getString("code")).isEqualTo("feature_not_in_plan");
    assertThat(chat(key, "gpt-4o-mini").status()).isEqualTo(200);

    String customer = StripeIds.next("cus");
    String sub = StripeIds.next("sub");
    Instant start = Instant.now().minusSeconds(60).truncatedTo(ChronoUnit.SECONDS);
    Instant end = start.plus(30, ChronoUnit.DAYS);
    webhooks.deliverAndWait(StripeObjects.checkoutSession().created(start).customer(customer).account(account).subscription(sub)
        .plan("pro").amountTotal(2000).completedEvent().created(start).json());
    assertThat(accountJson(account).getString("stripeCustomerId")).isEqualTo(customer);
    StripeObjects.Subscription subscription = pro(sub, customer, account, start, end, true);
    JsonObject created = webhooks.deliverAndWait(subscription.createdEvent().created(start).json());
    assertThat(created.getString("outcome")).contains("plan pro");
    assertThat(accountJson(account).getString("plan")).isEqualTo("pro");

    eventually("gpt-4o allowed on plan pro", () -> chat(key, "gpt-4o").status() == 200);
    assertThat(batch(key).status()).isEqualTo(200);

    String inv = StripeIds.next("in");
    StripeObjects.Invoice invoice = proInvoice(inv, customer, sub, "subscription_create", start, end).paid();
    JsonObject paid = webhooks.deliverAndWait(invoice.paidEvent().created(start.plusSeconds(5)).json());
    assertThat(paid.getString("status")).isEqualTo("processed");
    JsonObject again = webhooks.deliverAndWait(invoice.paymentSucceededEvent().created(start.plusSeconds(5)).json());
    assertThat(again.getString("outcome")).contains("already granted");
    assertThat(count("SELECT count(*) FROM credit_transactions WHERE account_id = $1 AND kind = 'period_grant' AND amount = 5000000",
        account)).as("pro's included credits, once for the invoice").isEqualTo(1);

    JsonObject s = status(account);
    assertThat(s.getString("plan")).isEqualTo("pro");
    assertThat(s.getJsonObject("subscription").getString("status")).isEqualTo("active");
    assertThat(s.getJsonObject("subscription").getJsonArray("prices")).containsExactly("price_pro", "price_pro_meter");
    assertThat(s.getJsonObject("period").getString("start")).as("the period follows the subscription").isEqualTo(start.toString());
    assertThat(s.getJsonObject("period").getString("end")).isEqualTo(end.toString());
    assertThat(s.getJsonObject("limits").getLong("includedCredits")).isEqualTo(5000);
    assertThat(s.getJsonObject("entitlements").getJsonArray("features")).containsExactly("batch");
    JsonArray invoices = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/invoices", null).json().getJsonArray("data");
    assertThat(invoices).hasSize(1);
    assertThat(invoices.getJsonObject(0).getString("status")).isEqualTo("paid");
    assertThat(invoices.getJsonObject(0).getString("hostedInvoiceUrl")).endsWith(inv);
    JsonObject access = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/access?feature=batch&model=gpt-4o", null).json();
    assertThat(access.getBoolean("allowed")).isTrue();

    // Canceled in the portal "at period end": the plan stays until Stripe deletes the subscription.
    webhooks.deliverAndWait(subscription.cancelAtPeriodEnd(true).updatedEvent(new JsonObject().put("cancel_at_period_end", false)
        .put("cancel_at", null)).created(start.plusSeconds(30)).json());
    JsonObject canceling = status(account);
    assertThat(canceling.getString("plan")).isEqualTo("pro");
    assertThat(canceling.getJsonObject("subscription").getBoolean("cancelAtPeriodEnd")).isTrue();
    assertThat(canceling.getJsonObject("subscription").getString("currentPeriodEnd")).isEqualTo(end.toString());
  }

  @Test
  @DisplayName("out of order: an older subscription event never overwrites newer state; deletion moves to free and stays")
  void outOfOrder() {
    long account = account("reordered");
    String customer = StripeIds.next("cus");
    String sub = StripeIds.next("sub");
    Instant t = Instant.now().minusSeconds(600).truncatedTo(ChronoUnit.SECONDS);
    Instant end = t.plus(30, ChronoUnit.DAYS);
    StripeObjects.Subscription first = pro(sub, customer, account, t, end, false);
    JsonObject created = first.createdEvent().created(t).json();
    JsonObject pastDue = first.status("past_due").updatedEvent(new JsonObject().put("status", "active")).created(t.plusSeconds(100)).json();
    JsonObject deleted = first.canceled(t.plusSeconds(200)).deletedEvent().created(t.plusSeconds(200)).json();

    // Stripe delivers the deletion first, then the older events.
    assertThat(webhooks.deliverAndWait(deleted).getString("outcome")).contains("plan free");
    assertThat(webhooks.deliverAndWait(created).getString("outcome")).startsWith("ignored: older than");
    assertThat(webhooks.deliverAndWait(pastDue).getString("outcome")).startsWith("ignored: older than");
    JsonObject s = status(account);
    assertThat(s.getString("plan")).isEqualTo("free");
    assertThat(s.getString("status")).isEqualTo("active");
    assertThat(s.getJsonObject("subscription").getString("status")).isEqualTo("canceled");

    // A newer, live subscription of the same customer takes over; an old one's late news does not.
    String next = StripeIds.next("sub");
    webhooks.deliverAndWait(pro(next, customer, account, t.plusSeconds(300), end, false).trial(t.plusSeconds(300), end)
        .createdEvent().created(t.plusSeconds(300)).json());
    assertThat(accountJson(account).getString("plan")).isEqualTo("pro");
    assertThat(accountJson(account).getString("status")).isEqualTo("trialing");
    assertThat(webhooks.deliverAndWait(first.deletedEvent().created(t.plusSeconds(400)).json()).getString("outcome"))
        .contains("the account follows " + next);
    assertThat(accountJson(account).getString("plan")).isEqualTo("pro");

    // A renewal paid, then its earlier failed attempt delivered late: the account stays in good standing.
    String renewal = StripeIds.next("in");
    Instant paidAt = t.plusSeconds(500);
    webhooks.deliverAndWait(proInvoice(renewal, customer, next, "subscription_cycle", end, end.plus(30, ChronoUnit.DAYS)).paid()
        .paidEvent().created(paidAt).json());
    assertThat(webhooks.deliverAndWait(proInvoice(renewal, customer, next, "subscription_cycle", end, end.plus(30, ChronoUnit.DAYS))
        .paymentFailed(paidAt).paymentFailedEvent().created(paidAt.minusSeconds(60)).json()).getString("outcome")).startsWith("ignored");
    assertThat(accountJson(account).getString("status")).isEqualTo("trialing");
    assertThat(count("SELECT count(*) FROM notifications WHERE account_id = $1 AND kind = 'payment_failed'", account)).isZero();
  }

  @Test
  @DisplayName("payment failed → past due with the plan kept → grace over → free plan on the hot path → late payment restores it")
  void dunning() {
    long account = account("dunned");
    String key = key(account);
    String customer = StripeIds.next("cus");
    String sub = StripeIds.next("sub");
    Instant start = Instant.now().minus(40, ChronoUnit.DAYS).truncatedTo(ChronoUnit.SECONDS);
    Instant cycle = start.plus(30, ChronoUnit.DAYS);
    // The account has been with us since before it subscribed, 40 days ago.
    await(pg.preparedQuery("UPDATE accounts SET period_start = $2, period_end = $3 WHERE id = $1").execute(Tuple.of(account,
        java.time.OffsetDateTime.ofInstant(start.minus(5, ChronoUnit.DAYS), java.time.ZoneOffset.UTC),
        java.time.OffsetDateTime.ofInstant(start.plus(25, ChronoUnit.DAYS), java.time.ZoneOffset.UTC))));
    webhooks.deliverAndWait(pro(sub, customer, account, start, cycle, false).createdEvent().created(start).json());
    webhooks.deliverAndWait(proInvoice(StripeIds.next("in"), customer, sub, "subscription_create", start, cycle).paid().paidEvent()
        .created(start).json());
    eventually("plan pro on the hot path", () -> chat(key, "gpt-4o").status() == 200);
    // The period ended ten days ago, but a live subscription's periods follow its invoices, not the calendar.
    assertThat(await(gateway.services().jobs().rollOverPeriods())).noneMatch(r -> r.after().id() == account);
    assertThat(status(account).getJsonObject("period").getString("start")).isEqualTo(start.toString());

    // The renewal fails two days ago; grace is one day, so it is over, but nothing moves until dunning runs.
    String renewal = StripeIds.next("in");
    Instant failedAt = Instant.now().minus(2, ChronoUnit.DAYS).truncatedTo(ChronoUnit.SECONDS);
    StripeObjects.Invoice renewalInvoice = proInvoice(renewal, customer, sub, "subscription_cycle", cycle, cycle.plus(30, ChronoUnit.DAYS));
    JsonObject failed = webhooks.deliverAndWait(renewalInvoice.paymentFailed(failedAt.plus(3, ChronoUnit.DAYS)).paymentFailedEvent()
        .created(failedAt).json());
    assertThat(failed.getString("outcome")).contains("past due");
    JsonObject s = status(account);
    assertThat(s.getString("status")).isEqualTo("past_due");
    assertThat(s.getString("plan")).isEqualTo("pro");
    assertThat(s.getJsonObject("subscription").getString("graceUntil")).isEqualTo(failedAt.plus(1, ChronoUnit.DAYS).toString());
    eventually("past due keeps working", () -> chat(key, "gpt-4o").status() == 200);
    JsonArray notes = admin(HttpMethod.GET, "/admin/v1/notifications?accountId=" + account, null).json().getJsonArray("data");
    assertThat(notes.stream().map(JsonObject.class::cast).map(n -> n.getString("kind"))).contains("payment_failed");

    assertThat(await(gateway.services().billing().runDunning())).contains(account);
    assertThat(await(gateway.services().billing().runDunning())).as("once").doesNotContain(account);
    assertThat(accountJson(account).getString("plan")).isEqualTo("free");
    eventually("free plan on the hot path: gpt-4o refused", () -> "model_not_in_plan".equals(
        chat(key, "gpt-4o").json().getJsonObject("error", new JsonObject()).getString("code")));
    assertThat(batch(key).status()).isEqualTo(403);
    notes = admin(HttpMethod.GET, "/admin/v1/notifications?accountId=" + account, null).json().getJsonArray("data");
    assertThat(notes.stream().map(JsonObject.class::cast).map(n -> n.getString("kind"))).contains("plan_downgraded");
    // On the free plan the calendar takes over: the ended period closes and the free plan's credits are granted.
    assertThat(await(gateway.services().jobs().rollOverPeriods())).anyMatch(r -> r.after().id() == account);
    assertThat(status(account).getJsonObject("period").getString("start")).isEqualTo(cycle.toString());

    // Stripe's next retry succeeds: the plan comes back and the new period's credits are granted.
    webhooks.deliverAndWait(renewalInvoice.paid().paidEvent().created(Instant.now()).json());
    assertThat(accountJson(account).getString("plan")).isEqualTo("pro");
    assertThat(accountJson(account).getString("status")).isEqualTo("active");
    eventually("plan pro again", () -> chat(key, "gpt-4o").status() == 200);
    assertThat(status(account).getJsonObject("period").getString("start")).isEqualTo(cycle.toString());
    // The period's included credits become pro's: free's 100 plus the 4,900 the paid invoice adds.
    assertThat(count("SELECT coalesce(sum(amount), 0) FROM credit_transactions WHERE account_id = $1 AND kind = 'period_grant' "
        + "AND idempotency_key LIKE $2", account, "period:" + account + ":" + cycle + "%")).as("in units").isEqualTo(5_000_000);
  }

  @Test
  @DisplayName("a past-due account is reminded once before its grace period ends (grace_ending), and only within the last half of it")
  void graceEndingReminder() {
    long account = account("reminded");
    String customer = StripeIds.next("cus");
    String sub = StripeIds.next("sub");
    Instant start = Instant.now().minus(20, ChronoUnit.DAYS).truncatedTo(ChronoUnit.SECONDS);
    Instant cycle = start.plus(30, ChronoUnit.DAYS);
    webhooks.deliverAndWait(pro(sub, customer, account, start, cycle, false).createdEvent().created(start).json());
    // Failed 10 hours ago: one day of grace leaves 14 hours, more than half of it: no reminder yet.
    Instant failedAt = Instant.now().minus(10, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS);
    StripeObjects.Invoice invoice = proInvoice(StripeIds.next("in"), customer, sub, "subscription_cycle", start, cycle);
    webhooks.deliverAndWait(invoice.paymentFailed(null).paymentFailedEvent().created(failedAt).json());
    await(gateway.services().billing().runDunning());
    java.util.function.Supplier<List<String>> kinds = () -> admin(HttpMethod.GET, "/admin/v1/notifications?accountId=" + account, null)
        .json().getJsonArray("data").stream().map(JsonObject.class::cast).map(n -> n.getString("kind")).toList();
    assertThat(kinds.get()).contains("payment_failed").doesNotContain("grace_ending");

    // The same failure, 13 hours ago (another account): 11 hours left, within the last twelve: reminded, once.
    long late = account("reminded late");
    String lateCustomer = StripeIds.next("cus");
    String lateSub = StripeIds.next("sub");
    webhooks.deliverAndWait(pro(lateSub, lateCustomer, late, start, cycle, false).createdEvent().created(start).json());
    Instant lateFailure = Instant.now().minus(13, ChronoUnit.HOURS).truncatedTo(ChronoUnit.SECONDS);
    webhooks.deliverAndWait(proInvoice(StripeIds.next("in"), lateCustomer, lateSub, "subscription_cycle", start, cycle)
        .paymentFailed(null).paymentFailedEvent().created(lateFailure).json());
    await(gateway.services().billing().runDunning());
    await(gateway.services().billing().runDunning());
    List<JsonObject> reminders = admin(HttpMethod.GET, "/admin/v1/notifications?accountId=" + late, null).json().getJsonArray("data")
        .stream().map(JsonObject.class::cast).filter(n -> n.getString("kind").equals("grace_ending")).toList();
    assertThat(reminders).hasSize(1);
    assertThat(reminders.get(0).getJsonObject("data").getString("graceUntil")).isEqualTo(lateFailure.plus(1, ChronoUnit.DAYS).toString());
    assertThat(accountJson(late).getString("plan")).as("not downgraded before its grace ends").isEqualTo("pro");
  }

  @Test
  @DisplayName("overage: bill lets a hybrid account run past its credits, exactly the excess recorded as overage; a prepaid one on the same plan stops at zero")
  void overageBilled() {
    // Credits are exact to 0.001 now, so a request no longer costs a whole credit: at 1,000 credits per 1M tokens a chat
    // reserves about 0.03 (its ~20 estimated input + 10 max output tokens) and costs 0.011 (the tokens the stub reports).
    // 0.04 credits pay exactly one of them (0.029 left is less than the next reservation), as 1 credit used to; the
    // hybrid account's 0.02 pay less than its three requests cost.
    long hybrid = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "payg-hybrid").put("plan", "payg")
        .put("billingMode", "hybrid").put("initialCredits", new java.math.BigDecimal("0.02")));
    long prepaid = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "payg-prepaid").put("plan", "payg")
        .put("billingMode", "prepaid").put("initialCredits", new java.math.BigDecimal("0.04")));
    String hybridKey = key(hybrid);
    String prepaidKey = key(prepaid);
    for (int i = 0; i < 3; i++) {
      assertThat(chat(hybridKey, "gpt-4o-mini").status()).isEqualTo(200);
    }
    assertThat(chat(prepaidKey, "gpt-4o-mini").status()).isEqualTo(200);
    assertThat(chat(prepaidKey, "gpt-4o-mini").status()).isEqualTo(402);
    JsonObject access = admin(HttpMethod.GET, "/admin/v1/accounts/" + hybrid + "/access", null).json();
    assertThat(access.getBoolean("allowed")).isTrue();
    // The 0.02 credits paid for what they could; the rest is overage (billed by meter), never a negative balance.
    assertThat(access.getLong("creditsRemaining")).isZero();
    eventually("the hybrid account's usage reaches Postgres", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1",
        hybrid) == 3);
    // In units (1000 a credit): 0.02 credits are 20.
    long used = count("SELECT coalesce(sum(credits), 0) FROM usage_events WHERE account_id = $1", hybrid);
    assertThat(used).as("three requests cost more than the 0.02 credits").isGreaterThan(20);
    assertThat(count("SELECT coalesce(sum(overage_credits), 0) FROM usage_events WHERE account_id = $1", hybrid))
        .as("overage = used − the 0.02 credits").isEqualTo(used - 20);
    // The prepaid account stopped with less than a request's worst case left, exactly 0.04 − its one request's cost; taking that
    // back leaves exactly zero, and its access check then says so.
    eventually("the prepaid account's usage reaches Postgres", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1",
        prepaid) == 1);
    long prepaidUsed = count("SELECT credits FROM usage_events WHERE account_id = $1", prepaid);
    java.math.BigDecimal left = io.tollgate.config.Credits.toCredits(40 - prepaidUsed);
    assertThat(new java.math.BigDecimal(admin(HttpMethod.GET, "/admin/v1/accounts/" + prepaid + "/access", null).json()
        .getValue("creditsRemaining").toString())).isEqualByComparingTo(left);
    assertThat(admin(HttpMethod.POST, "/admin/v1/accounts/" + prepaid + "/credits", new JsonObject().put("amount", left.negate())
        .put("reason", "take back the rest")).json().getValue("balance")).isEqualTo(0);
    assertThat(admin(HttpMethod.GET, "/admin/v1/accounts/" + prepaid + "/access", null).json().getJsonArray("reasons"))
        .contains("no credits remaining");
  }

  @Test
  @DisplayName("a credit pack purchase credits exactly once though its event arrives three times and its async twin once")
  void creditPackOnce() {
    long account = account("pack buyer");
    String customer = StripeIds.next("cus");
    long before = admin(HttpMethod.GET, "/admin/v1/accounts/" + account, null).json().getJsonObject("credits").getLong("spendable");
    StripeObjects.CheckoutSession session = StripeObjects.checkoutSession().customer(customer).account(account)
        .paymentIntent(StripeIds.next("pi")).amountTotal(500).creditPack("small", 1000);
    JsonObject completed = session.completedEvent().created(Instant.now()).json();
    webhooks.deliver(completed);
    webhooks.deliver(completed);
    webhooks.deliverAndWait(completed);
    JsonObject async = webhooks.deliverAndWait(session.asyncPaymentSucceededEvent().created(Instant.now()).json());
    assertThat(async.getString("outcome")).contains("already granted");
    assertThat(sumLedger(account, "top_up")).as("in units, 1000 a credit").isEqualTo(1_000_000);
    long after = admin(HttpMethod.GET, "/admin/v1/accounts/" + account, null).json().getJsonObject("credits").getLong("spendable");
    assertThat(after - before).isEqualTo(1000);
    assertThat(accountJson(account).getString("stripeCustomerId")).isEqualTo(customer);

    // An unpaid (async) session grants nothing until Stripe says the payment succeeded.
    long other = account("async buyer");
    assertThat(webhooks.deliverAndWait(StripeObjects.checkoutSession().customer(StripeIds.next("cus")).account(other)
        .paymentIntent(StripeIds.next("pi")).amountTotal(500).creditPack("small", 1000).paymentStatus("unpaid").completedEvent()
        .created(Instant.now()).json()).getString("outcome")).contains("awaits");
    assertThat(sumLedger(other, "top_up")).isZero();
  }

  @Test
  @DisplayName("trial ending, customer and payment method changes, invoice finalized, meter error reports, unknown types")
  void otherHandlers() {
    long account = account("handlers");
    String customer = StripeIds.next("cus");
    String sub = StripeIds.next("sub");
    Instant t = Instant.now().minusSeconds(120).truncatedTo(ChronoUnit.SECONDS);
    Instant trialEnd = t.plus(3, ChronoUnit.DAYS);
    StripeObjects.Subscription trialing = pro(sub, customer, account, t, trialEnd, false).trial(t, trialEnd);
    webhooks.deliverAndWait(trialing.createdEvent().created(t).json());
    assertThat(status(account).getJsonObject("subscription").getString("trialEnd")).isEqualTo(trialEnd.toString());
    JsonObject ending = webhooks.deliverAndWait(trialing.trialWillEndEvent().created(t.plusSeconds(1)).json());
    assertThat(ending.getString("outcome")).contains("account notified");
    webhooks.deliverAndWait(trialing.trialWillEndEvent().created(t.plusSeconds(2)).json());
    assertThat(count("SELECT count(*) FROM notifications WHERE account_id = $1 AND kind = 'trial_will_end'", account)).isEqualTo(1);

    StripeObjects.PaymentMethod card = StripeObjects.paymentMethod().created(t.plusSeconds(3)).customer(customer);
    String pm = card.id();
    assertThat(webhooks.deliverAndWait(card.attachedEvent().created(t.plusSeconds(3)).json())
        .getString("outcome")).contains("used for auto top-up");
    webhooks.deliverAndWait(StripeObjects.customer().id(customer).created(t).email("billing@example.com").defaultPaymentMethod(pm)
        .updatedEvent(new JsonObject().put("email", null).put("invoice_settings", new JsonObject().put("default_payment_method", null)))
        .created(t.plusSeconds(4)).json());
    assertThat(await(pg.preparedQuery("SELECT email, default_payment_method FROM account_billing WHERE account_id = $1")
        .execute(Tuple.of(account))).iterator().next().getString("email")).isEqualTo("billing@example.com");
    webhooks.deliverAndWait(card.detachedEvent().created(t.plusSeconds(5)).json());
    assertThat(await(pg.preparedQuery("SELECT default_payment_method FROM account_billing WHERE account_id = $1")
        .execute(Tuple.of(account))).iterator().next().getString("default_payment_method")).isNull();

    String inv = StripeIds.next("in");
    webhooks.deliverAndWait(proInvoice(inv, customer, sub, "subscription_cycle", trialEnd, trialEnd.plus(30, ChronoUnit.DAYS))
        .status("open").finalizedEvent().created(t.plusSeconds(6)).json());
    // An older "draft" update arriving late does not move the invoice back.
    webhooks.deliverAndWait(proInvoice(inv, customer, sub, "subscription_cycle", trialEnd, trialEnd.plus(30, ChronoUnit.DAYS))
        .status("draft").event("invoice.updated").created(t.plusSeconds(1)).json());
    JsonArray invoices = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/invoices", null).json().getJsonArray("data");
    assertThat(invoices.getJsonObject(0).getString("status")).isEqualTo("open");
    assertThat(invoices.getJsonObject(0).getString("invoicePdf")).contains(inv);

    double reports = gateway.registry().find("tollgate_stripe_meter_errors").counter() == null ? 0
        : gateway.registry().get("tollgate_stripe_meter_errors").counter().count();
    assertThat(webhooks.deliverAndWait(StripeEvents.meterErrorReport().meter("mtr_123")
        .error("meter_event_customer_not_found", 4, "No customer found for cus_gone", "tg_1:cus_gone").snapshotEvent().json())
        .getString("outcome")).contains("4 error(s)");
    assertThat(gateway.registry().get("tollgate_stripe_meter_errors").counter().count() - reports).isEqualTo(4);

    assertThat(webhooks.deliverAndWait(StripeEvents.event("radar.early_fraud_warning.created", new JsonObject().put("id", "issfr_1"))
        .created(Instant.now()).json()).getString("outcome")).startsWith("ignored");
  }

  @Test
  @DisplayName("an event for a customer not yet linked is retried, parked with its error, listed, and applied when replayed after linking")
  void parkedAndReplayed() {
    long account = account("linked later");
    String customer = StripeIds.next("cus");
    String sub = StripeIds.next("sub");
    Instant t = Instant.now().minusSeconds(30).truncatedTo(ChronoUnit.SECONDS);
    JsonObject e = pro(sub, customer, null, t, t.plus(30, ChronoUnit.DAYS), false).createdEvent().created(t).json();
    JsonObject parked = webhooks.deliverAndWait(e);
    assertThat(parked.getString("status")).isEqualTo("parked");
    assertThat(parked.getInteger("attempts")).isEqualTo(2);
    assertThat(parked.getString("lastError")).contains("no account is linked to Stripe customer " + customer);
    JsonArray listed = admin(HttpMethod.GET, "/admin/v1/webhooks/stripe/events?status=parked&type=customer.subscription.created", null)
        .json().getJsonArray("data");
    assertThat(listed.stream().map(JsonObject.class::cast).map(o -> o.getString("id"))).contains(e.getString("id"));
    assertThat(webhooks.stored(e.getString("id")).getJsonObject("payload").getString("type")).isEqualTo("customer.subscription.created");

    admin(HttpMethod.PATCH, "/admin/v1/accounts/" + account, new JsonObject().put("stripeCustomerId", customer));
    HttpTestClient.Reply replay = admin(HttpMethod.POST, "/admin/v1/webhooks/stripe/events/" + e.getString("id") + "/replay", null);
    assertThat(replay.status()).isEqualTo(202);
    JsonObject done = webhooks.awaitDone(e.getString("id"));
    assertThat(done.getString("status")).isEqualTo("processed");
    assertThat(done.getLong("accountId")).isEqualTo(account);
    assertThat(accountJson(account).getString("plan")).isEqualTo("pro");
    assertThat(admin(HttpMethod.POST, "/admin/v1/webhooks/stripe/events/evt_nope/replay", null).status()).isEqualTo(404);
    assertThat(admin(HttpMethod.GET, "/admin/v1/webhooks/stripe/events?status=lost", null).status()).isEqualTo(400);
    assertThat(count("SELECT count(*) FROM audit_log WHERE action = 'webhook.replay' AND resource_id = $1", e.getString("id"))).isEqualTo(1);
  }

  @Test
  @DisplayName("without STRIPE_API_KEY, an invoice paid before any subscription event still puts the account on the plan once; "
      + "optional fields missing never throw")
  void invoiceFirstWithoutStripeKey() {
    long account = account("invoice first, no key");
    String customer = StripeIds.next("cus");
    String sub = StripeIds.next("sub");
    Instant start = Instant.now().minusSeconds(60).truncatedTo(ChronoUnit.SECONDS);
    Instant end = start.plus(30, ChronoUnit.DAYS);
    admin(HttpMethod.PATCH, "/admin/v1/accounts/" + account, new JsonObject().put("stripeCustomerId", customer));
    StripeObjects.Invoice invoice = proInvoice(StripeIds.next("in"), customer, sub, "subscription_create", start, end).paid();
    JsonObject paid = webhooks.deliverAndWait(invoice.paidEvent().created(start.plusSeconds(5)).json());
    assertThat(paid.getString("status")).as(paid.getString("lastError")).isEqualTo("processed");
    assertThat(accountJson(account).getString("plan")).isEqualTo("pro");
    webhooks.deliverAndWait(pro(sub, customer, account, start, end, false).createdEvent().created(start).json());
    assertThat(accountJson(account).getString("plan")).isEqualTo("pro");
    assertThat(count("SELECT count(*) FROM credit_transactions WHERE account_id = $1 AND kind = 'period_grant' AND amount = 5000000",
        account)).as("pro's included credits, once").isEqualTo(1);

    // A paid invoice without a billing reason, a subscription event without a status: answered, never a NullPointerException.
    JsonObject noReason = invoice.paidEvent().created(start.plusSeconds(6)).json();
    noReason.getJsonObject("data").getJsonObject("object").remove("billing_reason");
    assertThat(webhooks.deliverAndWait(noReason).getString("status")).isEqualTo("processed");
    JsonObject noStatus = pro(sub, customer, account, start, end, false).updatedEvent(new JsonObject()).created(start.plusSeconds(7)).json();
    noStatus.getJsonObject("data").getJsonObject("object").remove("status");
    JsonObject refused = webhooks.deliverAndWait(noStatus);
    assertThat(refused.getString("status")).isEqualTo("parked");
    assertThat(refused.getString("lastError")).contains("has no status").doesNotContain("NullPointerException");
  }

  @Test
  @DisplayName("without STRIPE_API_KEY the plan catalog lists each plan's Stripe price ids, without amounts")
  void planCatalogWithoutStripeKey() {
    JsonObject body = admin(HttpMethod.GET, "/admin/v1/plans", null).json();
    assertThat(body.getBoolean("pricesFromStripe")).isFalse();
    JsonObject pro = body.getJsonArray("data").stream().map(JsonObject.class::cast).filter(p -> p.getString("name").equals("pro"))
        .findFirst().orElseThrow();
    assertThat(pro.getJsonArray("stripePrices")).containsExactly(new JsonObject().put("id", "price_pro"),
        new JsonObject().put("id", "price_pro_meter"));
    assertThat(pro.getLong("includedCredits")).isEqualTo(5000);
  }
}
