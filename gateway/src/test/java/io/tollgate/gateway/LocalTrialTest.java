package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.StripeIds;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Local trials: a plan until trialEndsAt, then the free plan exactly once unless a Stripe subscription took over")
class LocalTrialTest {

  private static final String SECRET = "whsec_local_trial_0123456789";
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
        pricing:
          default: { input: 1000, output: 1000 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0, models: [gpt-4o-mini] }
          pro: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0, stripePrices: [price_lt_pro] }
        billing:
          trialDays: 7
        metering: { flushIntervalMs: 50 }
        """.formatted(harness.stubBase()), Map.of("STRIPE_WEBHOOK_SECRET", SECRET));
    webhooks = new Webhooks(vertx, gateway, SECRET);
    pg = GatewayHarness.postgres(vertx);
  }

  @AfterAll
  static void stop() throws Exception {
    pg.close().await(10, TimeUnit.SECONDS);
    gateway.close();
  }

  private static HttpTestClient.Reply admin(HttpMethod method, String uri, JsonObject body) {
    return GatewayHarness.adminCall(gateway, vertx, method, uri, body);
  }

  private static HttpTestClient.Reply chat(String key, String model) {
    return await(new HttpTestClient(vertx, false, key).send(HttpMethod.POST, gateway.proxyPort(), "/v1/chat/completions",
        GatewayHarness.bearer(key).add("content-type", "application/json"),
        new JsonObject().put("model", model).put("max_tokens", 10)
            .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi"))).toBuffer()));
  }

  private static String errorCode(HttpTestClient.Reply reply) {
    return reply.json().getJsonObject("error", new JsonObject()).getString("code");
  }

  private static void eventually(String what, Supplier<Boolean> condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 10 s: " + what);
      }
      await(vertx.timer(25));
    }
  }

  private static JsonObject account(long id) {
    return admin(HttpMethod.GET, "/admin/v1/accounts/" + id, null).json();
  }

  private static long count(String sql, Object... args) {
    return GatewayHarness.count(pg, sql, args);
  }

  /** Time passes: the trial ended a minute ago. */
  private static void endTrialInPostgres(long account) {
    await(pg.preparedQuery("UPDATE accounts SET trial_ends_at = now() - interval '1 minute' WHERE id = $1").execute(Tuple.of(account)));
  }

  @Test
  @DisplayName("trial → the plan applies on the hot path with trialEndsAt shown → trial over → free plan exactly once, audited")
  void trialEnds() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "local trial").put("initialCredits", 100_000));
    String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
    eventually("free plan: gpt-4o refused", () -> "model_not_in_plan".equals(errorCode(chat(key, "gpt-4o"))));

    Instant before = Instant.now();
    HttpTestClient.Reply started = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/trial", new JsonObject().put("plan", "pro"));
    assertThat(started.status()).as(started.text()).isEqualTo(200);
    assertThat(started.json().getString("plan")).isEqualTo("pro");
    assertThat(started.json().getString("status")).isEqualTo("trialing");
    Instant endsAt = Instant.parse(account(account).getString("trialEndsAt"));
    assertThat(endsAt).as("billing.trialDays = 7").isBetween(before.plus(7, ChronoUnit.DAYS).minusSeconds(5),
        Instant.now().plus(7, ChronoUnit.DAYS).plusSeconds(5));
    eventually("trial plan pro on the hot path: gpt-4o served", () -> chat(key, "gpt-4o").status() == 200);

    assertThat(await(gateway.services().billing().endLocalTrials())).as("the trial is not over yet").doesNotContain(account);
    assertThat(account(account).getString("plan")).isEqualTo("pro");

    endTrialInPostgres(account);
    assertThat(await(gateway.services().billing().endLocalTrials())).contains(account);
    assertThat(await(gateway.services().billing().endLocalTrials())).as("once").doesNotContain(account);
    JsonObject after = account(account);
    assertThat(after.getString("plan")).isEqualTo("free");
    assertThat(after.getString("status")).isEqualTo("active");
    assertThat(after.getValue("trialEndsAt")).isNull();
    assertThat(count("SELECT count(*) FROM audit_log WHERE resource_type = 'account' AND resource_id = $1 AND action = 'account.billing_change' "
        + "AND after->>'plan' = 'free'", Long.toString(account))).as("one audit row for the downgrade").isEqualTo(1);
    eventually("free plan on the hot path again: gpt-4o refused", () -> "model_not_in_plan".equals(errorCode(chat(key, "gpt-4o"))));
  }

  @Test
  @DisplayName("a Stripe subscription that arrives during the trial takes over: the trial's end does not downgrade")
  void subscriptionTakesOver() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "trial then subscribed").put("initialCredits", 100_000));
    HttpTestClient.Reply started = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/trial",
        new JsonObject().put("plan", "pro").put("days", 3));
    assertThat(started.status()).as(started.text()).isEqualTo(200);
    // Stripe's own trial: the subscription is trialing, so the account's plan and status do not even change.
    Instant start = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    String customer = StripeIds.next("cus");
    JsonObject created = webhooks.deliverAndWait(StripeObjects.subscription().id(StripeIds.next("sub")).created(start)
        .set("start_date", start.getEpochSecond()).customer(customer).period(start, start.plus(14, ChronoUnit.DAYS))
        .licensedItem("price_lt_pro", 1).set("status", "trialing").metadata("tollgate_account_id", Long.toString(account))
        .metadata("tollgate_plan", "pro").createdEvent().created(start).json());
    assertThat(created.getString("status")).as(created.encode()).isEqualTo("processed");

    endTrialInPostgres(account);
    assertThat(await(gateway.services().billing().endLocalTrials())).doesNotContain(account);
    JsonObject after = account(account);
    assertThat(after.getString("plan")).isEqualTo("pro");
    assertThat(after.getString("status")).isEqualTo("trialing");
    assertThat(after.getValue("trialEndsAt")).as("the local trial is over, replaced by Stripe's").isNull();
    assertThat(count("SELECT count(*) FROM audit_log WHERE resource_type = 'account' AND resource_id = $1 "
        + "AND action = 'account.billing_change' AND after->>'plan' = 'free'", Long.toString(account))).as("no downgrade").isZero();
  }

  @Test
  @DisplayName("a trial is refused for an unknown or free plan, bad days, and an account with a Stripe customer (Checkout's job)")
  void refused() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "bad trial"));
    HttpTestClient.Reply unknown = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/trial", new JsonObject().put("plan", "gold"));
    assertThat(unknown.status()).isEqualTo(400);
    assertThat(unknown.json().getString("detail")).contains("'plan'");
    assertThat(admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/trial", new JsonObject().put("plan", "free")).status()).isEqualTo(400);
    HttpTestClient.Reply days = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/trial", new JsonObject().put("plan", "pro").put("days", 0));
    assertThat(days.status()).isEqualTo(400);
    assertThat(days.json().getString("detail")).contains("'days'");
    assertThat(admin(HttpMethod.POST, "/admin/v1/accounts/99999999/trial", new JsonObject().put("plan", "pro")).status()).isEqualTo(404);
    await(pg.preparedQuery("UPDATE accounts SET stripe_customer_id = $2 WHERE id = $1").execute(Tuple.of(account, StripeIds.next("cus"))));
    HttpTestClient.Reply linked = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/trial", new JsonObject().put("plan", "pro"));
    assertThat(linked.status()).isEqualTo(409);
    assertThat(linked.json().getString("detail")).contains("Checkout");
    JsonObject unchanged = account(account);
    assertThat(unchanged.getString("plan")).isEqualTo("free");
    assertThat(unchanged.getValue("trialEndsAt")).isNull();
  }
}
