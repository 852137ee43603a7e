package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.sqlclient.Pool;
import java.math.BigDecimal;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 15, part 2: credits are exact decimals with 0.001 as the smallest unit. A route that
 * charges 2.5 credits a request and a grant of 0.001 credit are followed end to end — Redis, the
 * ledger, the usage rows, the admin API and the CSV export — and the API refuses a fourth decimal.
 */
@DisplayName("Fractional credits end to end: 2.5 a request and a 0.001 grant are exact everywhere")
class FractionalCreditsTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static Pool pg;
  private static Redis redis;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - prefix: /action/
            upstream: %s/v1/
            flatCost: 2.5
        pricing:
          default: { input: 0, output: 0 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0.75 }
        """.formatted(harness.stubBase()), Map.of());
    pg = GatewayHarness.postgres(vertx);
    redis = Redis.createClient(vertx, gateway.redisUrl());
  }

  @AfterAll
  static void stop() {
    redis.close();
    await(pg.close());
    gateway.close();
  }

  private static HttpTestClient.Reply admin(HttpMethod method, String uri, String rawJson) {
    return await(GatewayHarness.admin(vertx).send(method, gateway.adminPort(), uri, GatewayHarness.adminHeaders(),
        rawJson == null ? null : Buffer.buffer(rawJson)));
  }

  private static int action(String key) {
    return await(GatewayHarness.admin(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/action/models", GatewayHarness.bearer(key), null))
        .status();
  }

  private static long redisBalance(long account) {
    return await(redis.send(Request.cmd(Command.GET).arg(new io.tollgate.metering.redis.RedisKeys(16).credits(account)))).toLong();
  }

  /** Waits (bounded) until Postgres has {@code rows} usage rows of the account; returns their summed units. */
  private static long usageUnits(long account, int rows) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (GatewayHarness.count(pg, "SELECT count(*) FROM usage_events WHERE account_id = $1", account) < rows
        && System.nanoTime() < deadline) {
      await(vertx.timer(50));
    }
    assertThat(GatewayHarness.count(pg, "SELECT count(*) FROM usage_events WHERE account_id = $1", account)).isEqualTo(rows);
    return GatewayHarness.count(pg, "SELECT coalesce(sum(credits), 0) FROM usage_events WHERE account_id = $1", account);
  }

  @Test
  @DisplayName("10 credits buy exactly four 2.5-credit requests; Redis, ledger, usage rows and the API agree to the unit")
  void twoAndAHalfCreditsARequest() {
    HttpTestClient.Reply created = admin(HttpMethod.POST, "/admin/v1/accounts",
        "{\"name\": \"fractional\", \"initialCredits\": 9.25}");
    assertThat(created.status()).isEqualTo(201);
    long account = created.json().getLong("id");
    // 0.75 included + 9.25 initial = 10 credits, shown as a whole number.
    assertThat(created.json().getJsonObject("credits").getValue("spendable")).isEqualTo(10);
    assertThat(created.json().getJsonObject("planLimits").getValue("includedCredits")).isEqualTo(0.75);
    String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");

    for (int i = 0; i < 4; i++) {
      assertThat(action(key)).as("request " + (i + 1)).isEqualTo(200);
    }
    assertThat(action(key)).as("0 credits left: the fifth is refused").isEqualTo(402);
    assertThat(redisBalance(account)).isZero();
    assertThat(usageUnits(account, 4)).as("4 × 2.5 credits, in units").isEqualTo(10_000);
    assertThat(GatewayHarness.count(pg, "SELECT count(*) FROM usage_events WHERE account_id = $1 AND credits = 2500", account)).isEqualTo(4);

    // A grant of the smallest unit: exactly 0.001 everywhere.
    HttpTestClient.Reply granted = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/credits",
        "{\"amount\": 0.001, \"reason\": \"smallest unit\"}");
    assertThat(granted.status()).as(granted.text()).isEqualTo(200);
    assertThat(granted.text()).contains("\"balance\":0.001");
    assertThat(redisBalance(account)).isEqualTo(1);
    assertThat(GatewayHarness.count(pg, "SELECT amount FROM credit_transactions WHERE account_id = $1 AND reason = 'smallest unit'",
        account)).isEqualTo(1);
    // 0.001 is not enough for a 2.5-credit request.
    assertThat(action(key)).isEqualTo(402);

    HttpTestClient.Reply credits = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/credits", null);
    assertThat(credits.text()).contains("\"spendable\":0.001").contains("\"ledgerSpendable\":0.001").contains("\"amount\":0.001")
        .contains("\"amount\":9.25").contains("\"amount\":0.75");

    HttpTestClient.Reply summary = admin(HttpMethod.GET, "/admin/v1/accounts/" + account + "/usage/summary", null);
    assertThat(summary.json().getValue("creditsToDate")).isEqualTo(10);
    HttpTestClient.Reply csv = await(GatewayHarness.admin(vertx).send(HttpMethod.GET, gateway.adminPort(),
        "/admin/v1/usage/events.csv?accountId=" + account, GatewayHarness.adminHeaders(), null));
    assertThat(csv.status()).as(csv.text()).isEqualTo(200);
    assertThat(csv.text().lines().skip(1)).hasSize(4).allSatisfy(line -> assertThat(line).contains(",2.5,200,"));
  }

  @Test
  @DisplayName("a fourth decimal is refused with 400 naming the field, and nothing is granted")
  void fourDecimalsRefused() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "precise"));
    HttpTestClient.Reply grant = admin(HttpMethod.POST, "/admin/v1/accounts/" + account + "/credits",
        "{\"amount\": 0.0001, \"reason\": \"too fine\"}");
    assertThat(grant.status()).isEqualTo(400);
    assertThat(grant.json().getString("detail")).contains("'amount'").contains("0.0001").contains("at most 3 decimals");
    assertThat(GatewayHarness.count(pg, "SELECT count(*) FROM credit_transactions WHERE account_id = $1 AND reason = 'too fine'",
        account)).isZero();

    HttpTestClient.Reply cap = admin(HttpMethod.PATCH, "/admin/v1/accounts/" + account, "{\"spendCap\": 1.2345}");
    assertThat(cap.status()).isEqualTo(400);
    assertThat(cap.json().getString("detail")).contains("'spendCap'").contains("1.2345");
    HttpTestClient.Reply created = admin(HttpMethod.POST, "/admin/v1/accounts", "{\"name\": \"x\", \"initialCredits\": 2.0001}");
    assertThat(created.status()).isEqualTo(400);
    assertThat(created.json().getString("detail")).contains("'initialCredits'");
    HttpTestClient.Reply low = admin(HttpMethod.PATCH, "/admin/v1/accounts/" + account, "{\"alerts\": {\"lowBalanceCredits\": 0.5555}}");
    assertThat(low.status()).isEqualTo(400);
    assertThat(low.json().getString("detail")).contains("lowBalanceCredits");

    // Three decimals (and trailing zeros beyond them) are fine and exact.
    HttpTestClient.Reply ok = admin(HttpMethod.PATCH, "/admin/v1/accounts/" + account, "{\"spendCap\": 1.2340, \"alerts\": {\"lowBalanceCredits\": 0.5}}");
    assertThat(ok.status()).as(ok.text()).isEqualTo(200);
    assertThat(ok.json().getValue("spendCap")).isEqualTo(1.234);
    assertThat(ok.json().getJsonObject("alerts").getValue("lowBalanceCredits")).isEqualTo(0.5);
    assertThat(GatewayHarness.count(pg, "SELECT spend_cap FROM accounts WHERE id = $1", account)).isEqualTo(1_234);
    assertThat(new BigDecimal(ok.json().getValue("spendCap").toString())).isEqualByComparingTo("1.234");
  }
}
