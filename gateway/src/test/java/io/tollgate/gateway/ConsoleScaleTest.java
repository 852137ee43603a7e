package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 17's scale: 10,000 accounts and a month of usage (an event every 30 s since the period
 * began) for one of them. The pages must show the right figures; their server-side times are
 * measured and written to target/console-scale.txt (reported, not asserted: timings depend on
 * the machine).
 */
@DisplayName("Console pages with 10,000 accounts and a month of usage")
class ConsoleScaleTest {

  private static final int ACCOUNTS = 10_000;
  private static final long CREDITS_PER_EVENT = 3;

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static Pool pg;

  @BeforeAll
  static void start() {
    String db = TestServices.get().freshDatabase("console_scale");
    // The default free plan, plus an allowance of billable actions: the page draws its bars too.
    gateway = GatewayHarness.start("""
        routes: []
        tiers: { small: 1, medium: 2.5 }
        actions: { agent_run: small }
        plans:
          free: { requestsPerMinute: 60, tokensPerMinute: 40000, includedCredits: 100000, allowances: { small: 100000, medium: 10 } }
        """, Map.of("DATABASE_URL", db));
    pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(db)).using(vertx).build();
  }

  @AfterAll
  static void stop() {
    pg.close();
    gateway.close();
  }

  @Test
  @DisplayName("the account page shows a month of usage and the lists page and search over 10,000 accounts")
  void monthOfUsage() throws Exception {
    long target = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Scale Target").put("initialCredits", 1));
    await(pg.query("INSERT INTO accounts (name) SELECT 'scale account ' || g FROM generate_series(1, " + (ACCOUNTS - 1) + ") g").execute());
    Instant periodStart = await(pg.preparedQuery("SELECT period_start FROM accounts WHERE id = $1").execute(Tuple.of(target)))
        .iterator().next().getOffsetDateTime(0).toInstant();
    // One event every 30 s from the period's start up to a minute ago, rotating over three models
    // (usage rows hold units: millicredits); every tenth is also a billable action of tier small,
    // covered by the allowance.
    long events = Duration.between(periodStart, Instant.now().minusSeconds(60)).toSeconds() / 30;
    await(pg.preparedQuery("INSERT INTO usage_events (event_id, account_id, route, model, input_tokens, output_tokens, credits, status, occurred_at, "
        + "action, tier, quantity, allowance_units) "
        + "SELECT gen_random_uuid(), $1, '/v1/', (ARRAY['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku'])[1 + g % 3], 10, 20, $2, 200, "
        + "$3 + g * interval '30 seconds', CASE WHEN g % 10 = 0 THEN 'agent_run' END, CASE WHEN g % 10 = 0 THEN 'small' END, "
        + "CASE WHEN g % 10 = 0 THEN 1 END, CASE WHEN g % 10 = 0 THEN 1 ELSE 0 END FROM generate_series(0, $4) g")
        .execute(Tuple.of(target, CREDITS_PER_EVENT * io.tollgate.config.Credits.UNITS_PER_CREDIT, OffsetDateTime.ofInstant(periodStart, ZoneOffset.UTC), events - 1)));
    await(pg.preparedQuery("INSERT INTO usage_rollups_hourly (account_id, key_id, route, model, hour, action, tier, requests, input_tokens, "
        + "output_tokens, credits, quantity, allowance_units) "
        + "SELECT account_id, 0, route, model, date_trunc('hour', occurred_at), coalesce(action, ''), coalesce(tier, ''), count(*), "
        + "sum(input_tokens), sum(output_tokens), sum(credits), coalesce(sum(quantity), 0), sum(allowance_units) "
        + "FROM usage_events WHERE account_id = $1 GROUP BY 1, 2, 3, 4, 5, 6, 7").execute(Tuple.of(target)));
    await(pg.query("ANALYZE").execute());

    ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
    c.signIn(GatewayHarness.ADMIN_TOKEN);
    String link = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + target + "/customer-link",
        new JsonObject()).json().getString("path");

    HttpTestClient.Reply page = c.get("/console/accounts/" + target);
    assertThat(page.status()).isEqualTo(200);
    String toDate = String.format(java.util.Locale.ROOT, "%,d", events * CREDITS_PER_EVENT);
    assertThat(page.text()).contains("<span id=\"usage-to-date\">" + toDate + "</span>").contains("claude-3-5-haiku");
    // Events 0, 10, 20, … were actions: one in ten, rounded up.
    String actions = String.format(java.util.Locale.ROOT, "%,d", (events + 9) / 10);
    assertThat(page.text()).contains("<span class=\"used\">" + actions + " / 100,000</span>").contains("id=\"actions-table\"");
    assertThat(c.get("/console/accounts?q=scale+account+9999").text()).contains("scale account 9999");
    assertThat(c.get("/console/accounts").text()).contains("rel=\"next\"");

    Map<String, String> pages = new LinkedHashMap<>();
    pages.put("account page (month of usage)", "/console/accounts/" + target);
    pages.put("accounts, first page", "/console/accounts");
    pages.put("accounts, search by name", "/console/accounts?q=scale+account+9999");
    pages.put("accounts, last page", "/console/accounts?after=" + (target + ACCOUNTS - 60));
    pages.put("customer page (month of usage)", link);
    pages.put("audit log", "/console/audit");
    pages.put("overview", "/console/overview");
    StringBuilder report = new StringBuilder("console page times, " + ACCOUNTS + " accounts, " + events + " usage events for one: "
        + "median / max of 10 after 3 warm-ups (ms, over loopback HTTP)\n");
    for (Map.Entry<String, String> p : pages.entrySet()) {
      for (int i = 0; i < 3; i++) {
        assertThat(c.get(p.getValue()).status()).as(p.getKey()).isEqualTo(200);
      }
      List<Double> times = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        long t0 = System.nanoTime();
        assertThat(c.get(p.getValue()).status()).isEqualTo(200);
        times.add((System.nanoTime() - t0) / 1e6);
      }
      times.sort(Double::compare);
      report.append(String.format(java.util.Locale.ROOT, "  %-34s %7.1f / %7.1f%n", p.getKey(), times.get(5), times.get(9)));
    }
    System.out.print(report);
    Files.writeString(Files.createDirectories(Path.of("target")).resolve("console-scale.txt"), report);
  }
}
