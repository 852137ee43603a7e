package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The console's per-tier allowance bars and billable-action usage (operator's account page and
 * customer page), and the header's notification bell, over HTTP against real Redis and Postgres.
 */
@DisplayName("Console: allowance bars per tier, usage per action and tier, the notification bell")
class ConsoleActionsTest {

  private static final String XSS = "<script>alert('x')</script>";
  private static final String YAML = """
      pricing:
        default: { input: 0, output: 0 }
      tiers: { small: 1, medium: 2.5, large: 5, xl: 15 }
      actions:
        agent_run: small
        image: { tier: medium }
        export: { credits: 3 }
      plans:
        free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0, allowances: { small: 10, medium: 4 } }
        basic: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 1000 }
      metering: { flushIntervalMs: 50 }
      """;

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static Pool pg;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start(YAML, Map.of());
    pg = GatewayHarness.postgres(vertx);
  }

  @AfterAll
  static void stop() throws Exception {
    pg.close().await(10, TimeUnit.SECONDS);
    gateway.close();
  }

  private static ConsoleClient signedIn() {
    ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
    assertThat(c.signIn(GatewayHarness.ADMIN_TOKEN).status()).isEqualTo(303);
    return c;
  }

  private static long account(String name, String plan, long credits) {
    return GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", name).put("plan", plan).put("initialCredits", credits));
  }

  private static String customerPath(long account) {
    return GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + account + "/customer-link",
        new JsonObject()).json().getString("path");
  }

  private static void report(long account, JsonArray batch) {
    String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
    HttpTestClient.Reply reply = await(new HttpTestClient(vertx, false, key).send(HttpMethod.POST, gateway.proxyPort(), "/tollgate/v1/events",
        MultiMap.caseInsensitiveMultiMap().add("content-type", "application/json"), batch.toBuffer()));
    assertThat(reply.status()).as(reply.text()).isEqualTo(200);
    assertThat(reply.json().getLong("accepted")).isEqualTo(batch.size());
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

  /** The allowance bar of one tier on a page: its text, used / included and left. */
  private static String bar(String html, String tier) {
    Matcher m = Pattern.compile("<div class=\"gauge allowance\" data-tier=\"" + tier + "\">(.*?)</div>", Pattern.DOTALL).matcher(html);
    assertThat(m.find()).as("a bar for tier " + tier).isTrue();
    return m.group(1);
  }

  /** The billable actions table's rows, as "day|action|tier|quantity|fromAllowance|credits". */
  private static java.util.List<String> actionRows(String html) {
    Matcher table = Pattern.compile("<table id=\"actions-table\">(.*?)</table>", Pattern.DOTALL).matcher(html);
    assertThat(table.find()).as("the billable actions table").isTrue();
    Matcher row = Pattern.compile("<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td class=\"num\">(.*?)</td><td class=\"num\">(.*?)</td>"
        + "<td class=\"num\">(.*?)</td></tr>").matcher(table.group(1));
    java.util.List<String> out = new java.util.ArrayList<>();
    while (row.find()) {
      out.add(String.join("|", row.group(1), row.group(2), row.group(3), row.group(4), row.group(5), row.group(6)));
    }
    return out;
  }

  private static final DateTimeFormatter DAY = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);

  @Test
  @DisplayName("small 10 included and 3 used shows 3 / 10 and 7 left, medium 4 of 4 used shows 0 left, on the account and the customer page; tiers the plan includes none of have no bar")
  void allowanceBars() {
    long id = account("bars", "free", 100);
    report(id, new JsonArray()
        .add(new JsonObject().put("id", "bar-1").put("action", "agent_run").put("quantity", 3))
        .add(new JsonObject().put("id", "bar-2").put("action", "image").put("quantity", 6)));
    eventually("2 usage rows", () -> GatewayHarness.count(pg, "SELECT count(*) FROM usage_events WHERE account_id = $1", id) == 2);

    String operator = signedIn().get("/console/accounts/" + id).text();
    String customer = new ConsoleClient(vertx, gateway.adminPort()).get(customerPath(id)).text();
    for (String page : new String[] {operator, customer}) {
      assertThat(page).contains("id=\"allowances\"");
      assertThat(bar(page, "small")).contains("<span class=\"used\">3 / 10</span>").contains("<span class=\"left\">7 left</span>")
          .contains("<progress max=\"100\" value=\"30\"");
      assertThat(bar(page, "medium")).contains("<span class=\"used\">4 / 4</span>").contains("<span class=\"left\">0 left</span>")
          .contains("value=\"100\"");
      assertThat(page).doesNotContain("data-tier=\"large\"").doesNotContain("data-tier=\"xl\"");
      // Cheapest tier first: small before medium.
      assertThat(page.indexOf("data-tier=\"small\"")).isLessThan(page.indexOf("data-tier=\"medium\""));
    }
    // The bars and the admin usage summary agree: both read the same domain call.
    JsonObject summary = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + id + "/usage/summary", null)
        .json().getJsonObject("allowances");
    assertThat(summary.getJsonObject("small")).isEqualTo(new JsonObject().put("included", 10).put("used", 3).put("remaining", 7));
    assertThat(summary.getJsonObject("xl")).isEqualTo(new JsonObject().put("included", 0).put("used", 0).put("remaining", 0));
  }

  @Test
  @DisplayName("a plan without allowances shows the included-credits gauge only, no allowance bars")
  void noAllowances() {
    long id = account("no bars", "basic", 0);
    String page = signedIn().get("/console/accounts/" + id).text();
    assertThat(page).doesNotContain("id=\"allowances\"").doesNotContain("gauge allowance")
        .contains("Included credits this period: 0 of 1,000");
    assertThat(new ConsoleClient(vertx, gateway.adminPort()).get(customerPath(id)).text()).doesNotContain("id=\"allowances\"")
        .contains("Included credits this period: 0 of 1,000");
  }

  @Test
  @DisplayName("usage per action and tier: quantity, the part the allowance covered and credits per day, on the account and the customer page")
  void usagePerAction() {
    long id = account("per action", "free", 100);
    report(id, new JsonArray()
        .add(new JsonObject().put("id", "act-1").put("action", "agent_run").put("quantity", 3))
        .add(new JsonObject().put("id", "act-2").put("action", "image").put("quantity", 6))
        .add(new JsonObject().put("id", "act-3").put("action", "export").put("quantity", 2)));
    eventually("the rollups of 3 actions", () -> GatewayHarness.count(pg,
        "SELECT coalesce(sum(quantity), 0) FROM usage_rollups_hourly WHERE account_id = $1", id) == 11);
    String today = DAY.format(Instant.now());
    String operator = signedIn().get("/console/accounts/" + id).text();
    String customer = new ConsoleClient(vertx, gateway.adminPort()).get(customerPath(id)).text();
    for (String page : new String[] {operator, customer}) {
      // agent_run: 3 of the small allowance, 0 credits; image: 4 from the allowance, 2 × 2.5 = 5 credits; export: 2 × 3 = 6 credits.
      assertThat(actionRows(page)).containsExactly(
          today + "|agent_run|small|3|3|0",
          today + "|export|—|2|0|6",
          today + "|image|medium|6|4|5");
      assertThat(page).contains("id=\"actions-chart\"").contains("agent_run (small)").contains("image (medium)");
      assertThat(page).contains("<span id=\"usage-to-date\">11</span>");
    }
  }

  @Test
  @DisplayName("action and tier names from stored usage are shown as text, in the table and in the chart's data")
  void actionNamesEscaped() {
    long id = account("escaped actions", "free", 0);
    GatewayHarness.count(pg, "INSERT INTO usage_rollups_hourly (account_id, route, hour, requests, credits, action, tier, quantity) "
        + "VALUES ($1, '/tollgate/v1/events', date_trunc('hour', now()), 1, 1000, $2, $3, 1) RETURNING 1", id, XSS, "<img src=x onerror=alert(1)>");
    for (String page : new String[] {signedIn().get("/console/accounts/" + id).text(),
        new ConsoleClient(vertx, gateway.adminPort()).get(customerPath(id)).text()}) {
      assertThat(page).doesNotContain(XSS).doesNotContain("<img src=x").contains("&lt;script&gt;").contains("&lt;img src=x onerror=alert(1)&gt;");
      assertThat(actionRows(page)).hasSize(1);
    }
  }

  @Test
  @DisplayName("the header's bell shows the unread notifications, up to 99+, and links to the unread notifications")
  void bell() {
    long id = account("bell", "basic", 0);
    ConsoleClient c = signedIn();
    long before = GatewayHarness.count(pg, "SELECT count(*) FROM notifications WHERE read_at IS NULL");
    assertThat(before).as("this test counts from a small number").isLessThan(90);
    GatewayHarness.count(pg, "WITH n AS (INSERT INTO notifications (account_id, kind, threshold, period_start, delivery_status) "
        + "SELECT $1, 'usage_threshold', 50 + g, now(), 'none' FROM generate_series(1, 3) g RETURNING 1) SELECT count(*) FROM n", id);
    GatewayHarness.count(pg, "WITH n AS (INSERT INTO notifications (account_id, kind, threshold, period_start, read_at, delivery_status) "
        + "VALUES ($1, 'usage_threshold', 90, now(), now(), 'none') RETURNING 1) SELECT count(*) FROM n", id);
    String page = c.get("/console/overview").text();
    assertThat(page).contains("<a class=\"bell\" id=\"bell\" href=\"/console/notifications?unread=true\"")
        .contains("aria-label=\"Notifications: " + (before + 3) + " unread\"")
        .contains("<span class=\"count\" id=\"unread-count\">" + (before + 3) + "</span>");
    try {
      GatewayHarness.count(pg, "WITH n AS (INSERT INTO notifications (account_id, kind, threshold, period_start, delivery_status) "
          + "SELECT $1, 'low_balance', g, now(), 'none' FROM generate_series(1, 100) g RETURNING 1) SELECT count(*) FROM n", id);
      assertThat(c.get("/console/accounts").text()).contains("<span class=\"count\" id=\"unread-count\">99+</span>")
          .contains("aria-label=\"Notifications: 99+ unread\"");
    } finally {
      GatewayHarness.count(pg, "WITH n AS (UPDATE notifications SET read_at = now() WHERE account_id = $1 AND read_at IS NULL RETURNING 1) "
          + "SELECT count(*) FROM n", id);
    }
    assertThat(c.get("/console/accounts").text()).doesNotContain("id=\"unread-count\">99+");
    // The customer page has no bell: it is the operator's.
    assertThat(new ConsoleClient(vertx, gateway.adminPort()).get(customerPath(id)).text()).doesNotContain("id=\"bell\"");
  }

  private static JsonObject accountJson(long id) {
    return GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + id, null).json();
  }

  @Test
  @DisplayName("editing an account in the console changes name, status, plan, spend cap and low-balance alert exactly, CSRF-protected and audited as the console")
  void editAccount() {
    long id = account("before edit", "basic", 0);
    ConsoleClient c = signedIn();
    String page = c.get("/console/accounts/" + id).text();
    assertThat(page).contains("id=\"edit-form\"").contains("id=\"edit-plan\"").contains("value=\"before edit\"");
    Map<String, String> form = Map.of("name", "after " + XSS, "status", "suspended", "plan", "free", "spendCap", "2.5",
        "lowBalanceCredits", "1,000.125");
    assertThat(c.post("/console/accounts/" + id + "/edit", form).status()).isEqualTo(403);
    assertThat(accountJson(id).getString("name")).isEqualTo("before edit");

    java.util.HashMap<String, String> signed = new java.util.HashMap<>(form);
    signed.put("_csrf", c.csrf());
    HttpTestClient.Reply saved = c.post("/console/accounts/" + id + "/edit", signed);
    assertThat(saved.status()).isEqualTo(303);
    JsonObject after = accountJson(id);
    assertThat(after.getString("name")).isEqualTo("after " + XSS);
    assertThat(after.getString("status")).isEqualTo("suspended");
    assertThat(after.getString("plan")).isEqualTo("free");
    assertThat(after.getValue("spendCap").toString()).isEqualTo("2.5");
    assertThat(after.getJsonObject("alerts").getValue("lowBalanceCredits").toString()).isEqualTo("1000.125");
    JsonArray audited = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET,
        "/admin/v1/audit-log?actor=console&action=account.update&resourceId=" + id, null).json().getJsonArray("data");
    assertThat(audited.size()).isEqualTo(1);
    // The form shows what is stored, escaped; empty fields clear the cap and the alert.
    String edited = c.get("/console/accounts/" + id).text();
    assertThat(edited).doesNotContain(XSS).contains("value=\"2.5\"").contains("value=\"1000.125\"");
    signed.put("spendCap", "");
    signed.put("lowBalanceCredits", "");
    assertThat(c.post("/console/accounts/" + id + "/edit", signed).status()).isEqualTo(303);
    assertThat(accountJson(id).getValue("spendCap")).isNull();
    assertThat(accountJson(id).getJsonObject("alerts").getValue("lowBalanceCredits")).isNull();

    signed.put("spendCap", "-1");
    HttpTestClient.Reply negative = c.post("/console/accounts/" + id + "/edit", signed);
    assertThat(negative.status()).isEqualTo(400);
    assertThat(negative.text()).contains("Spend cap must not be negative.");
    signed.put("spendCap", "");
    signed.put("status", "gone");
    assertThat(c.post("/console/accounts/" + id + "/edit", signed).text()).contains("Status must be one of active, trialing, past_due, suspended, canceled.");
  }

  @Test
  @DisplayName("an account billed by a live Stripe subscription has no plan field; a plan sent anyway is refused (409, use the plan change), other fields still change")
  void editSubscribedAccount() {
    long id = account("subscribed", "basic", 0);
    GatewayHarness.count(pg, "WITH b AS (INSERT INTO account_billing (account_id, stripe_subscription_id, subscription_status) "
        + "VALUES ($1, 'sub_console_live', 'active') RETURNING 1) SELECT count(*) FROM b", id);
    ConsoleClient c = signedIn();
    String page = c.get("/console/accounts/" + id).text();
    assertThat(page).contains("id=\"edit-plan-note\"").doesNotContain("id=\"edit-plan\"").contains("/plan-change");
    HttpTestClient.Reply refused = c.post("/console/accounts/" + id + "/edit", Map.of("_csrf", c.csrf(), "name", "subscribed",
        "plan", "free"));
    assertThat(refused.status()).isEqualTo(409);
    assertThat(refused.text()).contains("sub_console_live").contains("/plan-change");
    assertThat(accountJson(id).getString("plan")).isEqualTo("basic");
    assertThat(c.post("/console/accounts/" + id + "/edit", Map.of("_csrf", c.csrf(), "name", "renamed subscriber")).status())
        .isEqualTo(303);
    assertThat(accountJson(id).getString("name")).isEqualTo("renamed subscriber");
    assertThat(accountJson(id).getString("plan")).isEqualTo("basic");
  }
}
