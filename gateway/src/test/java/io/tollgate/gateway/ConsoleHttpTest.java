package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.testing.MutableClock;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The console over plain HTTP (no browser): sign-in and its cookie, the session and CSRF checks,
 * audited changes, escaping of what accounts are called, and the customer page's isolation.
 */
@DisplayName("Console over HTTP: sessions, CSRF, audit, escaping, customer links")
class ConsoleHttpTest {

  private static final String XSS = "<script>alert('x')</script><img src=x onerror=alert(1)>\"'&";

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;
  private static MutableClock clock;

  @BeforeAll
  static void start() {
    clock = new MutableClock(System.currentTimeMillis());
    gateway = Tollgate.start(GatewayHarness.config("""
        routes:
          - prefix: /v1/
            upstream: %s/v1/
        plans:
          free: { requestsPerMinute: 60, tokensPerMinute: 40000, includedCredits: 1000 }
          pro: { requestsPerMinute: 600, tokensPerMinute: 400000, includedCredits: 50000 }
        """.formatted(harness.stubBase()), Map.of()), clock);
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  private static ConsoleClient signedIn() {
    ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
    assertThat(c.signIn(GatewayHarness.ADMIN_TOKEN).status()).isEqualTo(303);
    return c;
  }

  private static long account(String name, long credits) {
    return GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", name).put("initialCredits", credits));
  }

  private static JsonArray audit(String query) {
    return GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/audit-log?" + query, null).json().getJsonArray("data");
  }

  @Test
  @DisplayName("sign-in with the admin token sets an HttpOnly, SameSite=Strict session cookie on /console; Secure when reached over TLS")
  void signInCookie() {
    ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
    HttpTestClient.Reply reply = c.signIn(GatewayHarness.ADMIN_TOKEN);
    assertThat(reply.status()).isEqualTo(303);
    assertThat(reply.headers().get("location")).isEqualTo("/console/overview");
    String cookie = c.setCookie("tollgate_console");
    assertThat(cookie).isNotNull().containsIgnoringCase("HttpOnly").contains("SameSite=Strict").contains("Path=/console")
        .doesNotContainIgnoringCase("Secure");
    assertThat(c.get("/console/accounts").status()).isEqualTo(200);

    ConsoleClient tls = new ConsoleClient(vertx, gateway.adminPort());
    HttpTestClient.Reply form = tls.get("/console/sign-in");
    tls.post("/console/sign-in", Map.of("_csrf", ConsoleClient.csrf(form), "token", GatewayHarness.ADMIN_TOKEN),
        MultiMap.caseInsensitiveMultiMap().add("x-forwarded-proto", "https"));
    assertThat(tls.setCookie("tollgate_console")).containsIgnoringCase("; Secure").containsIgnoringCase("HttpOnly")
        .contains("SameSite=Strict");
  }

  @Test
  @DisplayName("a wrong admin token, or a sign-in form without its CSRF token, gets no session")
  void wrongToken() {
    ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
    HttpTestClient.Reply wrong = c.signIn("not-the-token");
    assertThat(wrong.status()).isEqualTo(401);
    assertThat(wrong.text()).contains("That is not the admin token.");
    assertThat(c.cookies).doesNotContainKey("tollgate_console");

    ConsoleClient forged = new ConsoleClient(vertx, gateway.adminPort());
    HttpTestClient.Reply noCsrf = forged.post("/console/sign-in", Map.of("token", GatewayHarness.ADMIN_TOKEN));
    assertThat(noCsrf.status()).isEqualTo(403);
    assertThat(forged.cookies).doesNotContainKey("tollgate_console");
    assertThat(forged.get("/console/accounts").status()).isEqualTo(303);
  }

  @Test
  @DisplayName("without a session, pages redirect to sign-in and forms are refused; a forged or expired cookie is no session")
  void sessionRequired() {
    ConsoleClient anonymous = new ConsoleClient(vertx, gateway.adminPort());
    for (String entry : new String[] {"/console", "/console/"}) {
      HttpTestClient.Reply first = anonymous.get(entry);
      assertThat(first.status()).as(entry).isEqualTo(303);
      HttpTestClient.Reply second = anonymous.get(first.headers().get("location"));
      assertThat(second.status() == 200 || "/console/sign-in".equals(second.headers().get("location"))).as(entry).isTrue();
    }
    HttpTestClient.Reply page = anonymous.get("/console/accounts");
    assertThat(page.status()).isEqualTo(303);
    assertThat(page.headers().get("location")).isEqualTo("/console/sign-in");
    assertThat(anonymous.post("/console/accounts", Map.of("name", "sneaky")).status()).isEqualTo(401);

    ConsoleClient c = signedIn();
    String value = c.cookies.get("tollgate_console");
    String[] parts = value.split("\\.");
    // A later expiry with the old signature.
    c.cookies.put("tollgate_console", parts[0] + "." + (Long.parseLong(parts[1]) + 86_400) + "." + parts[2]);
    assertThat(c.get("/console/accounts").status()).isEqualTo(303);

    ConsoleClient expiring = signedIn();
    assertThat(expiring.get("/console/accounts").status()).isEqualTo(200);
    clock.advanceMillis(java.time.Duration.ofHours(8).plusSeconds(1).toMillis());
    assertThat(expiring.get("/console/accounts").status()).isEqualTo(303);
  }

  @Test
  @DisplayName("a console form without the session's CSRF token is refused (403) and changes nothing")
  void csrfRequired() {
    ConsoleClient c = signedIn();
    long id = account("csrf target", 100);
    HttpTestClient.Reply missing = c.post("/console/accounts/" + id + "/credits", Map.of("amount", "500", "reason", "forged"));
    assertThat(missing.status()).isEqualTo(403);
    HttpTestClient.Reply wrong = c.post("/console/accounts/" + id + "/credits",
        Map.of("_csrf", "AAAA" + c.csrf().substring(4), "amount", "500", "reason", "forged"));
    assertThat(wrong.status()).isEqualTo(403);
    // Another session's token does not fit this session.
    String otherSessionsToken = signedIn().csrf();
    assertThat(c.post("/console/accounts/" + id + "/credits", Map.of("_csrf", otherSessionsToken, "amount", "500", "reason", "forged"))
        .status()).isEqualTo(403);
    JsonObject credits = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + id + "/credits", null).json();
    // 100 granted at creation + the free plan's 1,000 included credits: nothing from the refused forms.
    assertThat(credits.getLong("spendable")).isEqualTo(1_100);

    HttpTestClient.Reply header = c.post("/console/accounts/" + id + "/credits", Map.of("amount", "5", "reason", "htmx"),
        MultiMap.caseInsensitiveMultiMap().add("x-csrf-token", c.csrf()));
    assertThat(header.status()).isEqualTo(303);
  }

  @Test
  @DisplayName("account, key, credits and revocation made in the console are applied and audited with the actor 'console'")
  void mutationsAudited() {
    ConsoleClient c = signedIn();
    HttpTestClient.Reply created = c.post("/console/accounts", Map.of("_csrf", c.csrf(), "name", "Console Co", "plan", "pro",
        "billingMode", "prepaid", "initialCredits", "250"));
    assertThat(created.status()).isEqualTo(303);
    String location = created.headers().get("location");
    long id = Long.parseLong(location.replaceAll("^/console/accounts/(\\d+).*$", "$1"));
    JsonObject account = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + id, null).json();
    assertThat(account.getString("name")).isEqualTo("Console Co");
    assertThat(account.getString("plan")).isEqualTo("pro");

    HttpTestClient.Reply key = c.post("/console/accounts/" + id + "/keys", Map.of("_csrf", c.csrf(), "name", "ci key"));
    assertThat(key.status()).isEqualTo(200);
    String plaintext = key.text().replaceAll("(?s).*<code id=\"new-key\">([^<]+)</code>.*", "$1");
    assertThat(plaintext).startsWith("tg_live_");
    // Shown once: the next view of the page has only the masked form.
    assertThat(c.get("/console/accounts/" + id).text()).doesNotContain(plaintext).contains(plaintext.substring(0, 8) + "…");
    assertThat(await(new HttpTestClient(vertx, false, plaintext).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);

    HttpTestClient.Reply grant = c.post("/console/accounts/" + id + "/credits", Map.of("_csrf", c.csrf(), "amount", "1,000",
        "reason", "welcome bonus", "idempotencyKey", "once-1"));
    assertThat(grant.status()).isEqualTo(303);
    // The same form sent twice applies once.
    c.post("/console/accounts/" + id + "/credits", Map.of("_csrf", c.csrf(), "amount", "1,000", "reason", "welcome bonus",
        "idempotencyKey", "once-1"));
    JsonObject credits = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + id + "/credits", null).json();
    // 250 initial + the pro plan's 50,000 included + the 1,000 granted once.
    assertThat(credits.getLong("ledgerSpendable")).isEqualTo(250 + 50_000 + 1_000);

    long keyId = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + id + "/keys", null).json()
        .getJsonArray("data").getJsonObject(0).getLong("id");
    HttpTestClient.Reply revoke = c.post("/console/accounts/" + id + "/keys/" + keyId + "/revoke", Map.of("_csrf", c.csrf()));
    assertThat(revoke.status()).isEqualTo(303);
    assertThat(GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + id + "/keys", null).json()
        .getJsonArray("data").getJsonObject(0).getString("status")).isEqualTo("revoked");

    JsonArray entries = audit("actor=console&resourceId=" + id);
    assertThat(entries.stream().map(e -> ((JsonObject) e).getString("action")).toList())
        .contains("account.create").anyMatch(a -> a.startsWith("credits"));
    assertThat(audit("actor=console&resourceType=api_key&resourceId=" + keyId).stream()
        .map(e -> ((JsonObject) e).getString("action")).toList()).contains("key.create", "key.revoke");
  }

  @Test
  @DisplayName("credits are entered and shown as exact decimals: 2.5 and 0.001 are granted exactly, a fourth decimal is refused")
  void decimalCredits() {
    ConsoleClient c = signedIn();
    long id = account("Decimal Co", 0);
    assertThat(c.post("/console/accounts/" + id + "/credits", Map.of("_csrf", c.csrf(), "amount", "2.5", "reason", "half",
        "idempotencyKey", "dec-1")).status()).isEqualTo(303);
    assertThat(c.post("/console/accounts/" + id + "/credits", Map.of("_csrf", c.csrf(), "amount", "0.001", "reason", "milli",
        "idempotencyKey", "dec-2")).status()).isEqualTo(303);
    HttpTestClient.Reply tooPrecise = c.post("/console/accounts/" + id + "/credits", Map.of("_csrf", c.csrf(), "amount", "1.2345",
        "reason", "x", "idempotencyKey", "dec-3"));
    assertThat(tooPrecise.status()).isEqualTo(400);
    assertThat(tooPrecise.text()).contains("more than 3 decimals");
    JsonObject credits = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + id + "/credits", null).json();
    // The free plan's 1,000 included credits + 2.5 + 0.001, exactly; nothing from the refused form.
    assertThat(new java.math.BigDecimal(credits.getValue("ledgerSpendable").toString())).isEqualByComparingTo("1002.501");
    assertThat(c.get("/console/accounts/" + id).text()).contains("<dd id=\"balance\">1,002.501");
  }

  @Test
  @DisplayName("a key of another account cannot be revoked through this account's page")
  void revokeStaysInAccount() {
    ConsoleClient c = signedIn();
    long mine = account("mine", 0);
    long theirs = account("theirs", 0);
    long theirKey = GatewayHarness.createKey(gateway, vertx, theirs, new JsonObject()).getLong("id");
    HttpTestClient.Reply reply = c.post("/console/accounts/" + mine + "/keys/" + theirKey + "/revoke", Map.of("_csrf", c.csrf()));
    assertThat(reply.status()).isEqualTo(404);
    assertThat(GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + theirs + "/keys", null).json()
        .getJsonArray("data").getJsonObject(0).getString("status")).isEqualTo("active");
  }

  @Test
  @DisplayName("an account name full of markup is shown as text on the list, the search, the account page and the customer page")
  void escapesAccountNames() {
    long id = account(XSS, 10);
    ConsoleClient c = signedIn();
    String escaped = "&lt;script&gt;alert(";
    for (String path : new String[] {"/console/accounts/" + id, "/console/accounts?q=" + java.net.URLEncoder.encode("<script>",
        java.nio.charset.StandardCharsets.UTF_8)}) {
      HttpTestClient.Reply page = c.get(path);
      assertThat(page.status()).as(path).isEqualTo(200);
      assertThat(page.text()).as(path).contains(escaped).doesNotContain("<script>alert").doesNotContain("<img src=x");
    }
    String link = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + id + "/customer-link",
        new JsonObject()).json().getString("path");
    HttpTestClient.Reply customer = new ConsoleClient(vertx, gateway.adminPort()).get(link);
    assertThat(customer.text()).contains(escaped).doesNotContain("<script>alert").doesNotContain("<img src=x");
    assertThat(customer.headers().get("content-security-policy")).contains("script-src 'self'").contains("frame-ancestors *");
    assertThat(c.get("/console/accounts/" + id).headers().get("content-security-policy")).contains("frame-ancestors 'none'");
  }

  @Test
  @DisplayName("a customer link shows its own account only: other ids in the path or query, and altered tokens, show nothing")
  void customerIsolation() {
    long alice = account("Alice Analytics", 4_321);
    long bob = account("Bob Bakery", 8_765);
    GatewayHarness.createKey(gateway, vertx, bob, new JsonObject().put("name", "bob-secret-key-name"));
    JsonObject link = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + alice + "/customer-link",
        new JsonObject().put("days", 2)).json();
    assertThat(link.getLong("accountId")).isEqualTo(alice);
    String path = link.getString("path");
    String token = link.getString("token");
    ConsoleClient customer = new ConsoleClient(vertx, gateway.adminPort());

    HttpTestClient.Reply own = customer.get(path);
    assertThat(own.status()).isEqualTo(200);
    // 4,321 granted + the free plan's 1,000 included.
    assertThat(own.text()).contains("Alice Analytics").contains("5,321").doesNotContain("Bob Bakery");

    String[] attempts = {
        path + "?account=" + bob, path + "?accountId=" + bob + "&id=" + bob, path + "/" + bob, path + "/../" + bob,
        "/console/customer/" + bob, "/console/customer/" + token.replace("c1." + alice + ".", "c1." + bob + "."),
        "/console/customer/c1." + bob + "." + token.split("\\.")[2] + ".", "/console/accounts/" + bob};
    for (String attempt : attempts) {
      HttpTestClient.Reply reply = customer.get(attempt);
      assertThat(reply.text()).as(attempt).doesNotContain("Bob Bakery").doesNotContain("9,765").doesNotContain("bob-secret-key-name");
      if (!attempt.startsWith(path + "?")) {
        assertThat(reply.status()).as(attempt).isIn(303, 404);
      }
    }
    // The operator's session does not widen what a customer link shows either.
    HttpTestClient.Reply withSession = signedIn().get(path + "?account=" + bob);
    assertThat(withSession.text()).contains("Alice Analytics").doesNotContain("Bob Bakery");
  }

  @Test
  @DisplayName("a customer link stops working when it expires; the link endpoint refuses bad input and unknown accounts")
  void customerLinkExpiryAndErrors() {
    long id = account("Short Lived", 1);
    String path = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + id + "/customer-link",
        new JsonObject().put("days", 1)).json().getString("path");
    ConsoleClient customer = new ConsoleClient(vertx, gateway.adminPort());
    assertThat(customer.get(path).status()).isEqualTo(200);
    clock.advanceMillis(java.time.Duration.ofDays(1).plusSeconds(1).toMillis());
    HttpTestClient.Reply expired = customer.get(path);
    assertThat(expired.status()).isEqualTo(404);
    assertThat(expired.text()).contains("not valid, or it has expired").doesNotContain("Short Lived");

    HttpTestClient.Reply tooLong = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + id + "/customer-link",
        new JsonObject().put("days", 31));
    assertThat(tooLong.status()).isEqualTo(400);
    assertThat(tooLong.json().getString("detail")).contains("'days' must be an integer from 1 to 30");
    assertThat(GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/999999999/customer-link",
        new JsonObject()).status()).isEqualTo(404);
    HttpTestClient.Reply noToken = await(GatewayHarness.admin(vertx).send(HttpMethod.POST, gateway.adminPort(),
        "/admin/v1/accounts/" + id + "/customer-link", null, null));
    assertThat(noToken.status()).isEqualTo(401);
    assertThat(audit("action=customer_link.create&resourceId=" + id).size()).isEqualTo(1);
  }

  @Test
  @DisplayName("the admin API's bearer auth works beside the console, and a console cookie does not open the admin API")
  void bearerUnchanged() {
    ConsoleClient c = signedIn();
    assertThat(GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts?limit=1", null).status()).isEqualTo(200);
    assertThat(c.get("/admin/v1/accounts?limit=1").status()).isEqualTo(401);
  }

  @Test
  @DisplayName("sign-out needs the form's CSRF token, clears the cookie, and a copy of the cookie no longer works")
  void signOut() {
    ConsoleClient c = signedIn();
    assertThat(c.post("/console/sign-out", Map.of()).status()).isEqualTo(403);
    assertThat(c.get("/console/accounts").status()).isEqualTo(200);
    String copy = c.cookies.get("tollgate_console");
    HttpTestClient.Reply out = c.post("/console/sign-out", Map.of("_csrf", c.csrf()));
    assertThat(out.status()).isEqualTo(303);
    assertThat(c.setCookie("tollgate_console")).contains("Max-Age=0");
    assertThat(c.get("/console/accounts").status()).isEqualTo(303);

    ConsoleClient thief = new ConsoleClient(vertx, gateway.adminPort());
    thief.cookies.put("tollgate_console", copy);
    HttpTestClient.Reply stolen = thief.get("/console/accounts");
    assertThat(stolen.status()).isEqualTo(303);
    assertThat(stolen.headers().get("location")).isEqualTo("/console/sign-in");
    assertThat(audit("actor=console&action=console.sign_out").size()).isGreaterThanOrEqualTo(1);
  }

  @Test
  @DisplayName("a revoked customer link shows nothing any more; a link of another account cannot be revoked from this account's page")
  void customerLinkRevocation() {
    long id = account("Revoked Link Co", 1);
    long other = account("Other Link Co", 1);
    String path = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + id + "/customer-link",
        new JsonObject()).json().getString("path");
    String kept = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + id + "/customer-link",
        new JsonObject()).json().getString("path");
    String otherPath = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + other + "/customer-link",
        new JsonObject()).json().getString("path");
    ConsoleClient customer = new ConsoleClient(vertx, gateway.adminPort());
    assertThat(customer.get(path).status()).isEqualTo(200);

    HttpTestClient.Reply revoked = GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/customer-links/revoke",
        new JsonObject().put("link", "https://console.example.com" + path + "?utm=x"));
    assertThat(revoked.status()).isEqualTo(200);
    assertThat(revoked.json().getLong("accountId")).isEqualTo(id);
    HttpTestClient.Reply gone = customer.get(path);
    assertThat(gone.status()).isEqualTo(404);
    assertThat(gone.text()).contains("not valid").doesNotContain("Revoked Link Co");
    assertThat(customer.post(path + "/portal", Map.of()).status()).isEqualTo(404);
    // Only that link: another link of the same account still works.
    assertThat(customer.get(kept).text()).contains("Revoked Link Co");

    ConsoleClient c = signedIn();
    HttpTestClient.Reply wrongAccount = c.post("/console/accounts/" + id + "/customer-link/revoke", Map.of("_csrf", c.csrf(), "link", otherPath));
    assertThat(wrongAccount.status()).isEqualTo(400);
    assertThat(customer.get(otherPath).status()).isEqualTo(200);
    assertThat(c.post("/console/accounts/" + other + "/customer-link/revoke", Map.of("_csrf", c.csrf(), "link", otherPath)).status())
        .isEqualTo(303);
    assertThat(customer.get(otherPath).status()).isEqualTo(404);

    assertThat(GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/customer-links/revoke",
        new JsonObject().put("link", "/console/customer/c1." + id + ".9999999999.forged")).status()).isEqualTo(400);
    assertThat(audit("action=customer_link.revoke&resourceId=" + id).size()).isEqualTo(1);
    assertThat(audit("action=customer_link.revoke&actor=console&resourceId=" + other).size()).isEqualTo(1);
  }

  @Test
  @DisplayName("pages, the WebJars and the API reference are served; an unknown account is a 404 page, bad form input a 400 naming the field")
  void pagesAndErrors() {
    ConsoleClient c = signedIn();
    for (String path : new String[] {"/console/overview", "/console/audit", "/console/api", "/console/accounts?q=nothing-matches-this"}) {
      HttpTestClient.Reply page = c.get(path);
      assertThat(page.status()).as(path).isEqualTo(200);
      assertThat(page.headers().get("content-type")).startsWith("text/html");
    }
    assertThat(c.get("/console/accounts?q=nothing-matches-this").text()).contains("No account matches");
    HttpTestClient.Reply api = c.get("/console/api");
    String swagger = api.text().replaceAll("(?s).*<script src=\"(/console/lib/swagger-ui/[^\"]+)\".*", "$1");
    assertThat(c.get(swagger).status()).isEqualTo(200);
    String htmx = api.text().replaceAll("(?s).*<script src=\"(/console/lib/htmx.org/[^\"]+)\".*", "$1");
    assertThat(c.get(htmx).text()).contains("htmx");
    assertThat(c.get("/console/accounts/987654321").status()).isEqualTo(404);
    long id = account("form errors", 0);
    HttpTestClient.Reply bad = c.post("/console/accounts/" + id + "/credits", Map.of("_csrf", c.csrf(), "amount", "lots", "reason", "x"));
    assertThat(bad.status()).isEqualTo(400);
    assertThat(bad.text()).contains("Amount: ").contains("is not a decimal number of credits");
    HttpTestClient.Reply audit = c.get("/console/audit.csv?actor=console");
    assertThat(audit.headers().get("content-type")).startsWith("text/csv");
    assertThat(audit.text()).startsWith("id,created_at,actor,action,resource_type,resource_id,ip");
  }

  @Test
  @DisplayName("rotating a key in the console shows the replacement once and audits key.rotate as the console")
  void rotateKey() {
    ConsoleClient c = signedIn();
    long id = account("rotation", 0);
    long keyId = GatewayHarness.createKey(gateway, vertx, id, new JsonObject()).getLong("id");
    HttpTestClient.Reply rotated = c.post("/console/accounts/" + id + "/keys/" + keyId + "/rotate", Map.of("_csrf", c.csrf()));
    assertThat(rotated.status()).isEqualTo(200);
    String plaintext = rotated.text().replaceAll("(?s).*<code id=\"new-key\">([^<]+)</code>.*", "$1");
    assertThat(plaintext).startsWith("tg_live_");
    assertThat(await(new HttpTestClient(vertx, false, plaintext).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);
    assertThat(audit("actor=console&action=key.rotate&resourceId=" + keyId).size()).isEqualTo(1);
  }

  @Test
  @DisplayName("the Stripe page shows the sync state and empty states; replaying an unknown event is a 404, retrying a non-dead item a 409")
  void stripePage() {
    ConsoleClient c = signedIn();
    HttpTestClient.Reply page = c.get("/console/stripe");
    assertThat(page.status()).isEqualTo(200);
    assertThat(page.text()).contains("Meter sync").contains("STRIPE_API_KEY is not set").contains("No dead letters");
    HttpTestClient.Reply replay = c.post("/console/stripe/events/evt_doesnotexist/replay", Map.of("_csrf", c.csrf()));
    assertThat(replay.status()).isEqualTo(404);
    assertThat(replay.text()).contains("Webhook event evt_doesnotexist not found");
    HttpTestClient.Reply retry = c.post("/console/stripe/outbox/424242/retry", Map.of("_csrf", c.csrf()));
    assertThat(retry.status()).isEqualTo(409);
    assertThat(c.post("/console/stripe/reconcile", Map.of("_csrf", c.csrf())).status()).isEqualTo(409);
  }

  @Test
  @DisplayName("notifications list every account's alerts, unread only when asked; marking one read is audited as the console")
  void notifications() {
    long id = account("alerted", 0);
    io.vertx.sqlclient.Pool pg = GatewayHarness.postgres(vertx);
    try {
      long notification = GatewayHarness.count(pg, "INSERT INTO notifications (account_id, kind, threshold, period_start) "
          + "VALUES ($1, 'usage_threshold', 80, now()) RETURNING id", id);
      ConsoleClient c = signedIn();
      assertThat(c.get("/console/notifications?unread=true").text()).contains("usage threshold at 80 %")
          .contains("/console/notifications/" + notification + "/read");
      assertThat(c.post("/console/notifications/" + notification + "/read", Map.of("_csrf", c.csrf())).status()).isEqualTo(303);
      assertThat(c.get("/console/notifications?unread=true").text()).doesNotContain("/console/notifications/" + notification + "/read");
      assertThat(c.get("/console/notifications").text()).contains("usage threshold at 80 %");
      assertThat(audit("actor=console&action=notification.read&resourceId=" + notification).size()).isEqualTo(1);
      assertThat(c.post("/console/notifications/987654321/read", Map.of("_csrf", c.csrf())).status()).isEqualTo(404);
    } finally {
      pg.close();
    }
  }
}
