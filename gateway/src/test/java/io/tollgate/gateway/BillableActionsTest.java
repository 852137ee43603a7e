package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.testing.MutableClock;
import io.tollgate.metering.periods.PeriodRollover;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 15, parts 3-4: billable actions reported through the ingest API on the public port, with
 * real Redis and Postgres. Prices and allowances below are the test catalog's; every expected
 * number is worked out from them by hand, never read back from the code under test.
 */
@DisplayName("Billable actions: events, reservations and balance through the ingest API")
class BillableActionsTest {

  /**
   * small = 1 credit, medium = 2, large = 5, premium = 2.5; export has its own price, 3. Free
   * includes 10 small, 4 medium and 4 premium. Credits are 1,000 ledger units each (millicredits):
   * what Postgres holds is checked in units.
   */
  private static final String YAML = """
      pricing:
        default: { input: 0, output: 0 }
      tiers:
        small: 1
        medium: 2
        large: 5
        premium: 2.5
      actions:
        agent_run: small
        image: { tier: medium }
        video: large
        export: { credits: 3 }
        render: premium
      plans:
        free:
          requestsPerMinute: 0
          tokensPerMinute: 0
          includedCredits: 0
          allowances: { small: 10, medium: 4, premium: 4 }
        scale:
          requestsPerMinute: 0
          tokensPerMinute: 0
          includedCredits: 0
          overage: bill
          allowances: { small: 2 }
      """;

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static MutableClock clock;
  private static Tollgate gateway;
  private static Pool pg;

  @BeforeAll
  static void start() {
    clock = new MutableClock(System.currentTimeMillis());
    gateway = Tollgate.start(GatewayHarness.config(YAML, Map.of()), clock);
    pg = GatewayHarness.postgres(vertx);
  }

  @AfterAll
  static void stop() {
    gateway.close();
    await(pg.close());
  }

  @Test
  @DisplayName("1,000 concurrent events against 10 allowed plus credits for 90 more: exactly 100 accepted; balance, counter and Postgres exact")
  void concurrentEventsStopExactlyAtAllowancePlusCredits() {
    long account = account(90);
    String key = key(account, new JsonObject());
    List<Future<HttpTestClient.Reply>> batches = new ArrayList<>();
    io.vertx.core.Promise<Void> fired = io.vertx.core.Promise.promise();
    HttpTestClient client = new HttpTestClient(vertx, true, key);
    vertx.runOnContext(v -> {
      for (int b = 0; b < 10; b++) {
        JsonArray batch = new JsonArray();
        for (int i = 0; i < 100; i++) {
          batch.add(new JsonObject().put("id", "burst-" + b + "-" + i).put("action", "agent_run"));
        }
        batches.add(client.send(HttpMethod.POST, gateway.proxyPort(), "/tollgate/v1/events", json(), batch.toBuffer()));
      }
      fired.complete();
    });
    await(fired.future());
    await(Future.all(new ArrayList<>(batches)));
    long accepted = 0;
    long refusedForCredits = 0;
    for (Future<HttpTestClient.Reply> f : batches) {
      JsonObject body = f.result().json();
      assertThat(f.result().status()).isEqualTo(200);
      accepted += body.getLong("accepted");
      for (Object o : body.getJsonArray("data")) {
        JsonObject e = (JsonObject) o;
        if ("refused".equals(e.getString("status"))) {
          assertThat(e.getString("reason")).isEqualTo("insufficient_credits");
          refusedForCredits++;
        }
      }
    }
    assertThat(accepted).isEqualTo(100);
    assertThat(refusedForCredits).isEqualTo(900);

    JsonObject balance = balance(key);
    assertThat(balance.getLong("credits")).isEqualTo(0);
    assertThat(balance.getJsonObject("allowances").getJsonObject("small"))
        .isEqualTo(new JsonObject().put("included", 10).put("used", 10).put("remaining", 0));

    eventually("100 usage rows in Postgres", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == 100);
    assertThat(count("SELECT sum(credits) FROM usage_events WHERE account_id = $1", account)).isEqualTo(units(90));
    assertThat(count("SELECT sum(allowance_units) FROM usage_events WHERE account_id = $1", account)).isEqualTo(10);
    assertThat(count("SELECT count(*) FROM usage_events WHERE account_id = $1 AND action = 'agent_run' AND tier = 'small' "
        + "AND quantity = 1 AND route = '/tollgate/v1/events' AND ingest_id LIKE 'burst-%'", account)).isEqualTo(100);
    // The ledger of record agrees with Redis: granted 90, spent 90.
    assertThat(ledgerBalance(account)).isEqualTo(units(0));
  }

  @Test
  @DisplayName("the same batch (Tollgate and CloudEvents shapes, a repeated id inside) sent twice is charged once")
  void sameBatchTwiceIsChargedOnce() {
    long account = account(100);
    String key = key(account, new JsonObject());
    JsonArray batch = new JsonArray()
        .add(new JsonObject().put("id", "b-1").put("action", "export").put("quantity", 2))             // 6 credits
        .add(new JsonObject().put("id", "b-2").put("action", "image").put("quantity", 6)               // 4 allowed + 2 × 2 = 4
            .put("properties", new JsonObject().put("size", "1024x1024")))
        .add(new JsonObject().put("specversion", "1.0").put("id", "b-3").put("type", "video").put("source", "app")
            .put("subject", "customer-7").put("time", clock.instant().toString())
            .put("data", new JsonObject().put("quantity", 3)))                                        // 3 × 5 = 15
        .add(new JsonObject().put("specversion", "1.0").put("id", "b-4").put("type", "agent_run").put("source", "app"))  // allowed
        .add(new JsonObject().put("id", "b-1").put("action", "export").put("quantity", 2));            // same id again
    JsonObject first = events(key, batch);
    assertThat(first.getLong("accepted")).isEqualTo(4);
    assertThat(first.getLong("duplicates")).isEqualTo(1);
    assertThat(statuses(first)).containsExactly("accepted", "accepted", "accepted", "accepted", "duplicate");
    assertThat(first.getJsonArray("data").getJsonObject(1).getLong("allowanceUnits")).isEqualTo(4);
    assertThat(first.getJsonArray("data").getJsonObject(1).getLong("credits")).isEqualTo(4);
    long charged = 6 + 4 + 15;
    assertThat(balance(key).getLong("credits")).isEqualTo(100 - charged);

    JsonObject second = events(key, batch);
    assertThat(second.getLong("accepted")).isEqualTo(0);
    assertThat(second.getLong("duplicates")).isEqualTo(5);
    assertThat(second.getJsonArray("data").getJsonObject(0).getString("eventId"))
        .isEqualTo(first.getJsonArray("data").getJsonObject(0).getString("eventId"));
    JsonObject after = balance(key);
    assertThat(after.getLong("credits")).isEqualTo(100 - charged);
    assertThat(after.getJsonObject("allowances").getJsonObject("medium").getLong("used")).isEqualTo(4);
    assertThat(after.getJsonObject("allowances").getJsonObject("small").getLong("used")).isEqualTo(1);

    eventually("4 usage rows", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == 4);
    assertThat(count("SELECT sum(credits) FROM usage_events WHERE account_id = $1", account)).isEqualTo(units(charged));
    assertThat(count("SELECT count(*) FROM usage_events WHERE account_id = $1 AND ingest_id = 'b-3' AND action = 'video' "
        + "AND tier = 'large' AND quantity = 3 AND properties->>'subject' = 'customer-7' AND reported_at IS NOT NULL", account))
        .isEqualTo(1);
    assertThat(ledgerBalance(account)).isEqualTo(units(100 - charged));
  }

  @Test
  @DisplayName("a reservation committed for less charges what was used and releases the rest; a second commit charges nothing")
  void reservationCommittedForLess() {
    long account = account(50);
    String key = key(account, new JsonObject());
    // 15 agent runs: 10 from the allowance, 5 held at 1 credit.
    HttpTestClient.Reply held = post(key, "/tollgate/v1/reservations", new JsonObject().put("action", "agent_run").put("quantity", 15));
    assertThat(held.status()).isEqualTo(201);
    assertThat(held.json().getLong("allowanceUnits")).isEqualTo(10);
    assertThat(held.json().getLong("credits")).isEqualTo(5);
    assertThat(balance(key).getLong("credits")).isEqualTo(45);
    String id = held.json().getString("id");

    HttpTestClient.Reply committed = post(key, "/tollgate/v1/reservations/" + id + "/commit", new JsonObject().put("quantity", 12));
    assertThat(committed.status()).isEqualTo(200);
    // 12 used: 10 from the allowance, 2 credits; 3 credits go back.
    assertThat(committed.json().getLong("allowanceUnits")).isEqualTo(10);
    assertThat(committed.json().getLong("credits")).isEqualTo(2);
    assertThat(committed.json().getJsonObject("released"))
        .isEqualTo(new JsonObject().put("quantity", 3).put("allowanceUnits", 0).put("credits", 3));
    assertThat(balance(key).getLong("credits")).isEqualTo(48);

    HttpTestClient.Reply again = post(key, "/tollgate/v1/reservations/" + id + "/commit", new JsonObject());
    assertThat(again.status()).isEqualTo(409);
    assertThat(again.json().getString("code")).isEqualTo("reservation_not_held");
    assertThat(balance(key).getLong("credits")).isEqualTo(48);

    // 5 images: 4 from the medium allowance, 1 held at 2. Committed for 3: one allowance unit and the 2 credits go back.
    String image = post(key, "/tollgate/v1/reservations", new JsonObject().put("action", "image").put("quantity", 5)).json().getString("id");
    assertThat(balance(key).getLong("credits")).isEqualTo(46);
    JsonObject three = post(key, "/tollgate/v1/reservations/" + image + "/commit", new JsonObject().put("quantity", 3)).json();
    assertThat(three.getLong("credits")).isEqualTo(0);
    assertThat(three.getLong("allowanceUnits")).isEqualTo(3);
    JsonObject after = balance(key);
    assertThat(after.getLong("credits")).isEqualTo(48);
    assertThat(after.getJsonObject("allowances").getJsonObject("medium").getLong("used")).isEqualTo(3);

    // A cancelled one gives everything back and cannot be committed afterwards.
    String export = post(key, "/tollgate/v1/reservations", new JsonObject().put("action", "export").put("quantity", 4)).json().getString("id");
    assertThat(balance(key).getLong("credits")).isEqualTo(36);
    assertThat(post(key, "/tollgate/v1/reservations/" + export + "/cancel", null).status()).isEqualTo(200);
    assertThat(balance(key).getLong("credits")).isEqualTo(48);
    assertThat(post(key, "/tollgate/v1/reservations/" + export + "/commit", null).status()).isEqualTo(409);

    eventually("2 usage rows", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == 2);
    assertThat(count("SELECT sum(credits) FROM usage_events WHERE account_id = $1", account)).isEqualTo(units(2));
    assertThat(count("SELECT sum(quantity) FROM usage_events WHERE account_id = $1 AND route = '/tollgate/v1/reservations'", account))
        .isEqualTo(15);
    assertThat(ledgerBalance(account)).isEqualTo(units(48));
  }

  @Test
  @DisplayName("a reservation never committed expires: the sweeper gives back its credits and allowance, and it can no longer be committed")
  void uncommittedReservationExpiresAndIsRefunded() {
    long account = account(20);
    String key = key(account, new JsonObject());
    String export = post(key, "/tollgate/v1/reservations", new JsonObject().put("action", "export").put("quantity", 2)).json().getString("id");
    String runs = post(key, "/tollgate/v1/reservations", new JsonObject().put("action", "agent_run").put("quantity", 3)).json().getString("id");
    JsonObject holding = balance(key);
    assertThat(holding.getLong("credits")).isEqualTo(14);
    assertThat(holding.getJsonObject("allowances").getJsonObject("small").getLong("used")).isEqualTo(3);

    clock.advanceMillis(gateway.config().metering().reservationTtl().plusSeconds(1).toMillis());
    await(gateway.services().jobs().sweepAll());

    JsonObject refunded = balance(key);
    assertThat(refunded.getLong("credits")).isEqualTo(20);
    assertThat(refunded.getJsonObject("allowances").getJsonObject("small").getLong("used")).isEqualTo(0);
    assertThat(post(key, "/tollgate/v1/reservations/" + export + "/commit", null).status()).isEqualTo(409);
    assertThat(post(key, "/tollgate/v1/reservations/" + runs + "/cancel", null).status()).isEqualTo(409);
    assertThat(balance(key).getLong("credits")).isEqualTo(20);
    await(gateway.services().jobs().flushUsage());
    assertThat(count("SELECT count(*) FROM usage_events WHERE account_id = $1", account)).isEqualTo(0);
  }

  @Test
  @DisplayName("tier math at 2.5 credits: 10,000 events of assorted quantities cost exactly Σ quantity × 2.5, in Redis, rows, rollups and the ledger")
  void noDriftOverTenThousandEvents() {
    long account = account(1_000_000);
    String key = key(account, new JsonObject());
    long quantities = 0;
    List<JsonArray> batches = new ArrayList<>();
    for (int b = 0; b < 100; b++) {
      JsonArray batch = new JsonArray();
      for (int i = 0; i < 100; i++) {
        int n = b * 100 + i;
        long quantity = 1 + n % 7;
        quantities += quantity;
        batch.add(new JsonObject().put("id", "drift-" + n).put("action", "render").put("quantity", quantity));
      }
      batches.add(batch);
    }
    for (JsonArray batch : batches) {
      JsonObject answer = events(key, batch);
      assertThat(answer.getLong("accepted")).isEqualTo(100);
    }
    // 1..7 repeating over 10,000 events: 1,428 full cycles of 28 and 1+2+3+4 = 39,994 units; the
    // plan's 4 premium actions are free (whichever events took them), the other 39,990 cost 2.5
    // credits each: 99,975 credits, 99,975,000 ledger units.
    assertThat(quantities).isEqualTo(39_994);
    long expected = 99_975_000;
    assertThat(balance(key).getLong("credits")).isEqualTo(1_000_000 - 99_975);
    eventually("10,000 rows", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == 10_000);
    assertThat(count("SELECT sum(credits) FROM usage_events WHERE account_id = $1", account)).isEqualTo(expected);
    assertThat(count("SELECT sum(credits) FROM usage_rollups_hourly WHERE account_id = $1 AND action = 'render' AND tier = 'premium'",
        account)).isEqualTo(expected);
    assertThat(count("SELECT sum(allowance_units) FROM usage_rollups_hourly WHERE account_id = $1", account)).isEqualTo(4);
    assertThat(ledgerBalance(account)).isEqualTo(units(1_000_000) - expected);

    // One more: its price and the balance show as exact decimals.
    JsonObject one = post(key, "/tollgate/v1/events", new JsonObject().put("id", "drift-last").put("action", "render")).json();
    assertThat(new java.math.BigDecimal(one.getValue("credits").toString())).isEqualByComparingTo("2.5");
    assertThat(new java.math.BigDecimal(balance(key).getValue("credits").toString())).isEqualByComparingTo("900022.5");
  }

  @Test
  @DisplayName("the period rollover resets the allowance counters; a reservation from the old period gives nothing back to the new one")
  void rolloverResetsAllowances() {
    long account = account(10);
    String key = key(account, new JsonObject());
    assertThat(events(key, new JsonArray().add(new JsonObject().put("id", "r-1").put("action", "agent_run").put("quantity", 6)))
        .getLong("accepted")).isEqualTo(1);
    String held = post(key, "/tollgate/v1/reservations", new JsonObject().put("action", "agent_run").put("quantity", 4)).json().getString("id");
    assertThat(balance(key).getJsonObject("allowances").getJsonObject("small").getLong("remaining")).isEqualTo(0);

    // The account's period ends in a second; the clock passes it and the rollover's grace, well
    // within the reservation's TTL, so the old period's reservation is still held afterwards.
    Instant oldEnd = clock.instant().plusSeconds(1);
    await(pg.preparedQuery("UPDATE accounts SET period_end = $2 WHERE id = $1")
        .execute(io.vertx.sqlclient.Tuple.of(account, java.time.OffsetDateTime.ofInstant(oldEnd, java.time.ZoneOffset.UTC))));
    clock.advanceMillis(PeriodRollover.GRACE.plusSeconds(2).toMillis());
    await(gateway.services().jobs().rollOverPeriods());
    eventually("the period rolled over", () -> count("SELECT count(*) FROM billing_periods WHERE account_id = $1", account) == 1);

    JsonObject fresh = balance(key);
    assertThat(Instant.parse(fresh.getJsonObject("period").getString("start"))).isEqualTo(oldEnd);
    assertThat(fresh.getJsonObject("allowances").getJsonObject("small"))
        .isEqualTo(new JsonObject().put("included", 10).put("used", 0).put("remaining", 10));
    // Committed for 1 of its 4: the 3 unused units were the old period's, not the new one's.
    assertThat(post(key, "/tollgate/v1/reservations/" + held + "/commit", new JsonObject().put("quantity", 1)).status()).isEqualTo(200);
    assertThat(balance(key).getJsonObject("allowances").getJsonObject("small"))
        .isEqualTo(new JsonObject().put("included", 10).put("used", 0).put("remaining", 10));
    assertThat(balance(key).getLong("credits")).isEqualTo(10);
  }

  @Test
  @DisplayName("refusals name their reason and charge nothing: unknown action, key scopes, bad timestamp, malformed bodies, bad keys")
  void refusals() {
    long account = account(5);
    String key = key(account, new JsonObject());
    JsonObject answer = events(key, new JsonArray()
        .add(new JsonObject().put("id", "x-1").put("action", "teleport"))
        .add(new JsonObject().put("id", "x-2").put("action", "export").put("timestamp", "2001-01-01T00:00:00Z"))
        .add(new JsonObject().put("id", "x-3").put("action", "export").put("quantity", 2)));
    assertThat(statuses(answer)).containsExactly("refused", "refused", "refused");
    assertThat(answer.getJsonArray("data").stream().map(o -> ((JsonObject) o).getString("reason")).toList())
        .containsExactly("unknown_action", "bad_timestamp", "insufficient_credits");
    assertThat(balance(key).getLong("credits")).isEqualTo(5);

    HttpTestClient.Reply single = post(key, "/tollgate/v1/events", new JsonObject().put("id", "x-4").put("action", "export").put("quantity", 2));
    assertThat(single.status()).isEqualTo(402);
    assertThat(single.headers().get("content-type")).startsWith("application/problem+json");
    assertThat(single.json().getString("code")).isEqualTo("insufficient_credits");
    // Refused ids were not remembered: the same id is charged once the balance allows it.
    assertThat(post(key, "/tollgate/v1/events", new JsonObject().put("id", "x-4").put("action", "export")).json().getString("status"))
        .isEqualTo("accepted");

    JsonArray tooMany = new JsonArray();
    for (int i = 0; i < 101; i++) {
      tooMany.add(new JsonObject().put("id", "many-" + i).put("action", "agent_run"));
    }
    HttpTestClient.Reply big = send(key, HttpMethod.POST, "/tollgate/v1/events", tooMany.toBuffer());
    assertThat(big.status()).isEqualTo(400);
    assertThat(big.json().getString("detail")).contains("at most 100");
    HttpTestClient.Reply noId = post(key, "/tollgate/v1/events", new JsonObject().put("action", "agent_run"));
    assertThat(noId.status()).isEqualTo(400);
    assertThat(noId.json().getString("detail")).isEqualTo("event.id is required");
    HttpTestClient.Reply badQuantity = post(key, "/tollgate/v1/reservations", new JsonObject().put("action", "export").put("quantity", 0));
    assertThat(badQuantity.status()).isEqualTo(400);
    assertThat(badQuantity.json().getString("detail")).contains("quantity must be a whole number 1-1000000");
    assertThat(post(key, "/tollgate/v1/reservations/rsv_bm90LWEtbWVtYmVy/commit", null).status()).isEqualTo(404);

    // Scopes: a key limited to other routes may not use the ingest API; one limited to some actions reports only those.
    String proxyOnly = key(account, new JsonObject().put("scopes", new JsonObject().put("routes", new JsonArray().add("/v1/"))));
    HttpTestClient.Reply forbidden = post(proxyOnly, "/tollgate/v1/events", new JsonObject().put("id", "s-1").put("action", "agent_run"));
    assertThat(forbidden.status()).isEqualTo(403);
    assertThat(forbidden.json().getString("code")).isEqualTo("route_not_allowed");
    String runsOnly = key(account, new JsonObject().put("scopes", new JsonObject().put("actions", new JsonArray().add("agent_run"))));
    HttpTestClient.Reply notAllowed = post(runsOnly, "/tollgate/v1/events", new JsonObject().put("id", "s-2").put("action", "export"));
    assertThat(notAllowed.status()).isEqualTo(403);
    assertThat(notAllowed.json().getString("code")).isEqualTo("action_not_allowed");
    assertThat(post(runsOnly, "/tollgate/v1/events", new JsonObject().put("id", "s-3").put("action", "agent_run")).status()).isEqualTo(200);

    HttpTestClient.Reply noKey = await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/tollgate/v1/balance", null, null));
    assertThat(noKey.status()).isEqualTo(401);
    assertThat(noKey.json().getString("code")).isEqualTo("missing_api_key");
    assertThat(balance(key).getLong("credits")).isEqualTo(2);
  }

  @Test
  @DisplayName("queries: usage by action and tier in the admin usage API and both CSV exports; the summary shows allowance used per tier")
  void queriesByActionAndTier() {
    long account = account(100);
    String key = key(account, new JsonObject());
    JsonObject answer = events(key, new JsonArray()
        .add(new JsonObject().put("id", "q-1").put("action", "agent_run").put("quantity", 12))   // 10 allowed + 2 credits
        .add(new JsonObject().put("id", "q-2").put("action", "image").put("quantity", 3))        // 3 allowed
        .add(new JsonObject().put("id", "q-3").put("action", "export").put("quantity", 2)));     // 6 credits
    assertThat(answer.getLong("accepted")).isEqualTo(3);
    eventually("3 rollups", () -> count("SELECT coalesce(sum(requests), 0) FROM usage_rollups_hourly WHERE account_id = $1", account) == 3);

    String range = "&from=" + clock.instant().minus(Duration.ofHours(2)) + "&to=" + clock.instant().plus(Duration.ofHours(2));
    JsonObject usage = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/usage?accountId=" + account
        + "&groupBy=action,tier&granularity=hour" + range, null).json();
    Map<String, JsonObject> byAction = new HashMap<>();
    usage.getJsonArray("data").forEach(o -> byAction.put(((JsonObject) o).getString("action"), (JsonObject) o));
    assertThat(byAction.keySet()).containsExactlyInAnyOrder("agent_run", "image", "export");
    assertThat(byAction.get("agent_run").getString("tier")).isEqualTo("small");
    assertThat(byAction.get("agent_run").getLong("quantity")).isEqualTo(12);
    assertThat(byAction.get("agent_run").getLong("allowanceUnits")).isEqualTo(10);
    assertThat(byAction.get("agent_run").getLong("credits")).isEqualTo(2);
    assertThat(byAction.get("image").getLong("allowanceUnits")).isEqualTo(3);
    assertThat(byAction.get("export").getString("tier")).isEqualTo("");
    assertThat(byAction.get("export").getLong("credits")).isEqualTo(6);

    List<String> events = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/usage/events.csv?accountId=" + account
        + range, null).text().lines().toList();
    assertThat(events.get(0)).endsWith(",outcome,action,tier,quantity,allowance_units,ingest_id");
    assertThat(events.subList(1, events.size())).hasSize(3)
        .anyMatch(l -> l.endsWith(",ok,agent_run,small,12,10,q-1") && l.contains(",/tollgate/v1/events,"))
        .anyMatch(l -> l.endsWith(",ok,export,,2,0,q-3"));
    List<String> daily = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/usage/daily.csv?accountId=" + account
        + range, null).text().lines().toList();
    assertThat(daily.get(0)).isEqualTo("day,account_id,route,model,requests,input_tokens,output_tokens,credits,action,tier,quantity,allowance_units");
    assertThat(daily).anyMatch(l -> l.endsWith("," + account + ",/tollgate/v1/events,,1,0,0,2,agent_run,small,12,10"));

    JsonObject summary = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + account + "/usage/summary",
        null).json();
    assertThat(summary.getJsonObject("allowances")).isEqualTo(new JsonObject()
        .put("large", new JsonObject().put("included", 0).put("used", 0).put("remaining", 0))
        .put("medium", new JsonObject().put("included", 4).put("used", 3).put("remaining", 1))
        .put("premium", new JsonObject().put("included", 4).put("used", 0).put("remaining", 4))
        .put("small", new JsonObject().put("included", 10).put("used", 10).put("remaining", 0)));
  }

  @Test
  @DisplayName("the public OpenAPI document describes exactly the ingest endpoints the public port serves")
  @SuppressWarnings("unchecked")
  void openApiDocumentMatchesEndpoints() throws Exception {
    Map<String, Object> doc;
    try (java.io.InputStream in = getClass().getClassLoader().getResourceAsStream("openapi/tollgate-ingest.yaml")) {
      doc = new org.yaml.snakeyaml.Yaml().load(in);
    }
    List<String> documented = new ArrayList<>();
    ((Map<String, Map<String, Object>>) doc.get("paths")).forEach((path, item) -> item.keySet().stream()
        .filter(k -> List.of("get", "post", "put", "patch", "delete").contains(k))
        .forEach(method -> documented.add(method.toUpperCase(java.util.Locale.ROOT) + " " + path)));
    assertThat(documented).containsExactlyInAnyOrder("POST /tollgate/v1/events", "POST /tollgate/v1/reservations",
        "POST /tollgate/v1/reservations/{id}/commit", "POST /tollgate/v1/reservations/{id}/cancel", "GET /tollgate/v1/balance");
    String key = key(account(0), new JsonObject());
    for (String endpoint : documented) {
      String[] parts = endpoint.split(" ");
      HttpTestClient.Reply reply = send(key, HttpMethod.valueOf(parts[0]), parts[1].replace("{id}", "rsv_x"), null);
      assertThat(reply.json().getString("code")).as(endpoint).isNotEqualTo("not_found");
    }
    HttpTestClient.Reply undocumented = send(key, HttpMethod.GET, "/tollgate/v1/events", null);
    assertThat(undocumented.status()).isEqualTo(404);
    assertThat(undocumented.json().getString("code")).isEqualTo("not_found");
  }

  @Test
  @DisplayName("allowance counters Redis lost are rebuilt from the period's usage events before the next action is admitted")
  void countersRebuiltAfterRedisLosesThem() {
    long account = account(10);
    String key = key(account, new JsonObject());
    assertThat(events(key, new JsonArray().add(new JsonObject().put("id", "l-1").put("action", "agent_run").put("quantity", 7)))
        .getLong("accepted")).isEqualTo(1);
    eventually("the row", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == 1);

    io.tollgate.metering.redis.RedisKeys keys = new io.tollgate.metering.redis.RedisKeys(gateway.config().metering().shards());
    io.vertx.redis.client.Redis redis = io.vertx.redis.client.Redis.createClient(vertx,
        io.tollgate.metering.testing.TestServices.get().redisUrl());
    try {
      await(redis.send(io.vertx.redis.client.Request.cmd(io.vertx.redis.client.Command.DEL)
          .arg(keys.allowances(account)).arg(keys.credits(account))));
    } finally {
      redis.close();
    }
    // Read from Postgres while Redis has nothing...
    assertThat(balance(key).getJsonObject("allowances").getJsonObject("small").getLong("used")).isEqualTo(7);
    // ...and loaded from it by the next admission: 3 allowed units are left, the 4th costs a credit.
    JsonObject next = events(key, new JsonArray().add(new JsonObject().put("id", "l-2").put("action", "agent_run").put("quantity", 4)));
    assertThat(next.getJsonArray("data").getJsonObject(0).getLong("allowanceUnits")).isEqualTo(3);
    assertThat(next.getJsonArray("data").getJsonObject(0).getLong("credits")).isEqualTo(1);
    assertThat(balance(key).getLong("credits")).isEqualTo(9);
  }

  @Test
  @DisplayName("steady state: an event costs exactly two Redis round trips (admit and settle), like a proxied request")
  void twoRoundTripsPerEvent() {
    long account = account(10);
    String key = key(account, new JsonObject());
    // Warm: the key's grant is cached, the balance and allowance counters loaded.
    assertThat(post(key, "/tollgate/v1/events", new JsonObject().put("id", "t-0").put("action", "agent_run")).status()).isEqualTo(200);
    eventually("the warm-up row", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == 1);
    io.vertx.redis.client.Redis redis = io.vertx.redis.client.Redis.createClient(vertx,
        io.tollgate.metering.testing.TestServices.get().redisUrl());
    try {
      Map<String, Long> before = commandCalls(redis);
      int n = 9;
      for (int i = 1; i <= n; i++) {
        assertThat(post(key, "/tollgate/v1/events", new JsonObject().put("id", "t-" + i).put("action", "agent_run")).json()
            .getString("status")).isEqualTo("accepted");
      }
      eventually("the rows", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == 1 + n);
      Map<String, Long> delta = new HashMap<>();
      commandCalls(redis).forEach((name, calls) -> {
        long d = calls - before.getOrDefault(name, 0L);
        if (d > 0) {
          delta.put(name, d);
        }
      });
      // Background jobs and this test's own INFO, as in MeteredProxyTest.
      // "hello": a pooled Redis connection (re)opened during the window greets the server once.
      for (String background : List.of("info", "hello", "xrange", "xreadgroup", "xautoclaim", "xack", "xdel", "xgroup", "xlen", "xpending",
          "zrangebyscore")) {
        delta.remove(background);
      }
      // Per event (within the allowance, no rate limits): two EVALSHAs; inside admit GET of the id's
      // marker, HMGET of the allowance counters, GET of the balance, ZADD, HINCRBY of the counter and
      // SET of the marker; inside settle ZREM, SET of the marker for 36 days, INCRBY of the balance, XADD.
      assertThat(delta).containsExactlyInAnyOrderEntriesOf(Map.of(
          "evalsha", 2L * n, "get", 2L * n, "hmget", (long) n, "zadd", (long) n, "hincrby", (long) n, "set", 2L * n,
          "zrem", (long) n, "incrby", (long) n, "xadd", (long) n));
    } finally {
      redis.close();
    }
  }

  private static Map<String, Long> commandCalls(io.vertx.redis.client.Redis redis) {
    String info = await(redis.send(io.vertx.redis.client.Request.cmd(io.vertx.redis.client.Command.INFO).arg("commandstats"))).toString();
    Map<String, Long> calls = new HashMap<>();
    for (String line : info.split("\\r?\\n")) {
      if (line.startsWith("cmdstat_")) {
        String name = line.substring(8, line.indexOf(':'));
        String count = line.substring(line.indexOf("calls=") + 6, line.indexOf(',', line.indexOf("calls=")));
        calls.put(name, Long.parseLong(count));
      }
    }
    return calls;
  }

  @Test
  @DisplayName("a hybrid account's actions beyond allowance and credits are accepted and recorded as overage, the part the meter bills")
  void hybridOverage() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "hybrid actions").put("plan", "scale")
        .put("billingMode", "hybrid").put("initialCredits", 5));
    String key = key(account, new JsonObject());
    // 10 agent runs: 2 from the allowance, 8 credits of which the balance pays 5 and 3 are overage.
    JsonObject answer = events(key, new JsonArray().add(new JsonObject().put("id", "h-1").put("action", "agent_run").put("quantity", 10)));
    assertThat(answer.getJsonArray("data").getJsonObject(0).getLong("allowanceUnits")).isEqualTo(2);
    assertThat(answer.getJsonArray("data").getJsonObject(0).getLong("credits")).isEqualTo(8);
    assertThat(balance(key).getLong("credits")).isEqualTo(0);
    eventually("the row", () -> count("SELECT count(*) FROM usage_events WHERE account_id = $1", account) == 1);
    assertThat(count("SELECT overage_credits FROM usage_events WHERE account_id = $1", account)).isEqualTo(units(3));
  }

  // ---- helpers

  /** Ledger units of whole credits: 1 credit = 1,000 units. */
  private static long units(long credits) {
    return credits * 1_000;
  }

  private static long account(long credits) {
    return GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "actions").put("plan", "free")
        .put("initialCredits", credits));
  }

  private static String key(long account, JsonObject attributes) {
    return GatewayHarness.createKey(gateway, vertx, account, attributes).getString("key");
  }

  private static MultiMap json() {
    return MultiMap.caseInsensitiveMultiMap().add("content-type", "application/json");
  }

  private static HttpTestClient.Reply send(String key, HttpMethod method, String uri, io.vertx.core.buffer.Buffer body) {
    return await(new HttpTestClient(vertx, false, key).send(method, gateway.proxyPort(), uri, json(), body));
  }

  private static HttpTestClient.Reply post(String key, String uri, JsonObject body) {
    return send(key, HttpMethod.POST, uri, body == null ? null : body.toBuffer());
  }

  private static JsonObject events(String key, JsonArray batch) {
    HttpTestClient.Reply reply = send(key, HttpMethod.POST, "/tollgate/v1/events", batch.toBuffer());
    assertThat(reply.status()).as(reply.text()).isEqualTo(200);
    return reply.json();
  }

  private static List<String> statuses(JsonObject answer) {
    return answer.getJsonArray("data").stream().map(o -> ((JsonObject) o).getString("status")).toList();
  }

  private static JsonObject balance(String key) {
    HttpTestClient.Reply reply = send(key, HttpMethod.GET, "/tollgate/v1/balance", null);
    assertThat(reply.status()).as(reply.text()).isEqualTo(200);
    return reply.json();
  }

  private static long count(String sql, Object... args) {
    io.vertx.sqlclient.Row row = await(pg.preparedQuery(sql).execute(io.vertx.sqlclient.Tuple.from(args))).iterator().next();
    return row.getValue(0) == null ? 0 : row.getLong(0);
  }

  /** The balance the Postgres ledger says (grants minus usage), independent of Redis. */
  private static long ledgerBalance(long account) {
    return count("SELECT coalesce((SELECT sum(amount) FROM credit_transactions WHERE account_id = $1), 0) "
        + "- coalesce((SELECT sum(credits) FROM usage_events WHERE account_id = $1), 0)", account);
  }

  private static void eventually(String what, Supplier<Boolean> condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 30 s: " + what);
      }
      await(vertx.timer(25));
    }
  }
}
