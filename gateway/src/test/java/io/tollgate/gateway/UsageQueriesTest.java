package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.config.Credits;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Usage queries, period summary and streamed CSV exports")
class UsageQueriesTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static Pool pg;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        routes:
          - prefix: /v1/
            upstream: %1$s/v1/
            usage: openai
          - prefix: /flat/
            upstream: %1$s/v1/
            flatCost: 7
        pricing:
          models:
            gpt-4o-mini: { input: 1000000, output: 1000000 }
          default: { input: 2000000, output: 2000000 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
        metering: { flushIntervalMs: 50 }
        """.formatted(harness.stubBase()), Map.of());
    pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
  }

  @AfterAll
  static void stop() {
    pg.close();
    gateway.close();
  }

  private static HttpTestClient.Reply admin(String uri) {
    return await(GatewayHarness.admin(vertx).send(HttpMethod.GET, gateway.adminPort(), uri, GatewayHarness.adminHeaders(), null));
  }

  private static long sum(String sql, Object... params) {
    return await(pg.preparedQuery(sql).execute(Tuple.from(params))).iterator().next().getLong(0);
  }

  /** A credit amount of the API as the exact decimal it was written as (at most 3 decimals). */
  private static BigDecimal decimal(JsonObject json, String field) {
    return new BigDecimal(json.getValue(field).toString());
  }

  private static void chat(String key, String model) {
    JsonObject body = new JsonObject().put("model", model).put("max_tokens", 5)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "hi")));
    HttpTestClient.Reply reply = await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.proxyPort(), "/v1/chat/completions",
        GatewayHarness.bearer(key), body.toBuffer()));
    assertThat(reply.status()).isEqualTo(200);
  }

  @Test
  @DisplayName("usage by model and route adds up to what Postgres recorded; the summary projects the period")
  void byModelAndRoute() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "queries").put("initialCredits", 1_000_000));
    String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
    for (int i = 0; i < 3; i++) {
      chat(key, "gpt-4o-mini");
    }
    chat(key, "other-model");
    assertThat(await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/flat/models")).status()).isEqualTo(200);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (sum("SELECT count(*) FROM usage_events WHERE account_id = $1", account) < 5 && System.nanoTime() < deadline) {
      await(vertx.timer(50));
    }
    // Postgres holds units (1000 a credit); the API shows credits as exact decimals.
    BigDecimal credits = Credits.toCredits(sum("SELECT sum(credits) FROM usage_events WHERE account_id = $1", account));
    BigDecimal miniCredits = Credits.toCredits(sum("SELECT sum(credits) FROM usage_events WHERE account_id = $1 AND model = 'gpt-4o-mini'",
        account));

    JsonObject byModel = admin("/admin/v1/usage?accountId=" + account + "&groupBy=model,route&granularity=hour").json();
    assertThat(byModel.getJsonObject("totals").getLong("requests")).isEqualTo(5);
    assertThat(decimal(byModel.getJsonObject("totals"), "credits")).isEqualByComparingTo(credits);
    List<JsonObject> miniBuckets = byModel.getJsonArray("data").stream().map(JsonObject.class::cast)
        .filter(b -> "gpt-4o-mini".equals(b.getString("model"))).toList();
    assertThat(miniBuckets.stream().mapToLong(b -> b.getLong("requests")).sum()).isEqualTo(3);
    assertThat(miniBuckets.stream().map(b -> decimal(b, "credits")).reduce(BigDecimal.ZERO, BigDecimal::add))
        .isEqualByComparingTo(miniCredits);
    assertThat(byModel.getJsonArray("data").stream().map(JsonObject.class::cast).filter(b -> "/flat/".equals(b.getString("route")))
        .map(b -> decimal(b, "credits")).reduce(BigDecimal.ZERO, BigDecimal::add)).isEqualByComparingTo("7");

    JsonObject daily = admin("/admin/v1/usage?accountId=" + account).json();
    assertThat(daily.getString("granularity")).isEqualTo("day");
    assertThat(decimal(daily.getJsonObject("totals"), "credits")).isEqualByComparingTo(credits);

    JsonObject summary = admin("/admin/v1/accounts/" + account + "/usage/summary").json();
    assertThat(decimal(summary, "creditsToDate")).isEqualByComparingTo(credits);
    assertThat(summary.getLong("requests")).isEqualTo(5);
    assertThat(decimal(summary, "projectedCredits")).isGreaterThanOrEqualTo(credits);
    assertThat(summary.getJsonObject("previousPeriod").getLong("credits")).isZero();
    assertThat(summary.getValue("changePercent")).isNull();
  }

  @Test
  @DisplayName("bad query parameters are 400s that name the parameter")
  void badParameters() {
    assertThat(admin("/admin/v1/usage?groupBy=colour").json().getString("detail")).contains("groupBy").contains("colour");
    assertThat(admin("/admin/v1/usage?granularity=minute").status()).isEqualTo(400);
    assertThat(admin("/admin/v1/usage?from=yesterday").json().getString("detail")).contains("'from'");
    assertThat(admin("/admin/v1/usage?granularity=hour&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z").json().getString("detail"))
        .contains("31 days");
    assertThat(admin("/admin/v1/usage/events.csv?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z").status()).isEqualTo(400);
    assertThat(admin("/admin/v1/usage?accountId=abc").status()).isEqualTo(400);
    assertThat(admin("/admin/v1/accounts/987654321/usage/summary").status()).isEqualTo(404);
  }

  @Test
  @DisplayName("20,000 raw events export as a chunked CSV, every row once and in order")
  void largeExportStreams() {
    long account = ThreadLocalRandom.current().nextLong(50_000_000, 60_000_000);
    Instant from = Instant.now().truncatedTo(ChronoUnit.HOURS).minus(2, ChronoUnit.HOURS);
    await(pg.preparedQuery("""
        INSERT INTO usage_events (event_id, account_id, key_id, route, model, input_tokens, output_tokens, credits, status, occurred_at, outcome)
        SELECT gen_random_uuid(), $1, 1, '/v1/', 'm,odel "quoted"', i, i, 1000, 200, $2::timestamptz + i * interval '100 milliseconds', 'ok'
        FROM generate_series(1, 20000) AS i
        """).execute(Tuple.of(account, java.time.OffsetDateTime.ofInstant(from, java.time.ZoneOffset.UTC))));
    HttpTestClient.Reply csv = admin("/admin/v1/usage/events.csv?accountId=" + account + "&from=" + from + "&to=" + from.plus(1, ChronoUnit.DAYS));
    assertThat(csv.status()).isEqualTo(200);
    MultiMap headers = csv.headers();
    assertThat(headers.get("transfer-encoding")).isEqualTo("chunked");
    assertThat(headers.get("content-length")).isNull();
    assertThat(headers.get("content-type")).startsWith("text/csv");
    List<String> lines = csv.text().lines().toList();
    assertThat(lines).hasSize(20_001);
    assertThat(lines.get(0)).isEqualTo("event_id,occurred_at,account_id,key_id,route,model,input_tokens,output_tokens,credits,status,"
        + "upstream_latency_ms,estimated,outcome,action,tier,quantity,allowance_units,ingest_id");
    assertThat(lines.get(1)).contains(",\"m,odel \"\"quoted\"\"\",1,1,1,200,");
    assertThat(lines.get(20_000)).contains(",20000,20000,1,200,");
    assertThat(lines.stream().skip(1).map(l -> l.substring(0, 36)).distinct().count()).isEqualTo(20_000);
  }

  @Test
  @DisplayName("the daily CSV has one row per UTC day, account, route and model; an hour after midnight is the next day")
  void dailyCsv() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "daily"));
    // Hourly rollups at fixed instants around one UTC midnight, so the expected days do not depend on
    // when the test runs: (key, route, model, hour, requests, input, output, credits).
    String insert = "INSERT INTO usage_rollups_hourly (account_id, key_id, route, model, hour, requests, input_tokens, "
        + "output_tokens, credits) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    for (Object[] row : List.of(
        // credits in units (1000 a credit); the last /v1/ row is 45.5 credits, to show a fraction in the CSV
        new Object[] {1L, "/flat/", "", "2026-03-01T22:00:00Z", 2L, 0L, 0L, 14_000L},
        new Object[] {2L, "/flat/", "", "2026-03-01T23:00:00Z", 1L, 0L, 0L, 7_000L},
        new Object[] {1L, "/v1/", "gpt-4o-mini", "2026-03-01T23:00:00Z", 3L, 30L, 15L, 45_500L},
        new Object[] {1L, "/flat/", "", "2026-03-02T00:00:00Z", 4L, 0L, 0L, 28_000L},
        new Object[] {1L, "/flat/", "", "2026-03-03T00:00:00Z", 9L, 0L, 0L, 63_000L})) {
      Object[] params = new Object[row.length + 1];
      params[0] = account;
      System.arraycopy(row, 0, params, 1, row.length);
      params[4] = java.time.OffsetDateTime.parse((String) row[3]);
      await(pg.preparedQuery(insert).execute(Tuple.from(params)));
    }
    List<String> lines = admin("/admin/v1/usage/daily.csv?accountId=" + account
        + "&from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z").text().lines().toList();
    assertThat(lines).containsExactly(
        "day,account_id,route,model,requests,input_tokens,output_tokens,credits,action,tier,quantity,allowance_units",
        "2026-03-01," + account + ",/flat/,,3,0,0,21,,,0,0",
        "2026-03-01," + account + ",/v1/,gpt-4o-mini,3,30,15,45.5,,,0,0",
        "2026-03-02," + account + ",/flat/,,4,0,0,28,,,0,0");
  }
}
