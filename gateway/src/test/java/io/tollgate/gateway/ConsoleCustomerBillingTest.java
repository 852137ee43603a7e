package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.FakeStripe;
import io.tollgate.stripesync.fake.StripeObjects;
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

/** The customer page's "Manage billing" against a fake Stripe driven by the real stripe-java client. */
@DisplayName("Customer page and account page: manage billing through the Stripe Customer Portal, upgrade through Stripe Checkout")
class ConsoleCustomerBillingTest {

  private static final String STRIPE_KEY = "sk_test_console_0123456789";
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static FakeStripe stripe;
  private static Tollgate gateway;

  @BeforeAll
  static void start() {
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
    stripe.definePrice(StripeObjects.price("price_pro").licensed().unitAmount(2000));
    stripe.definePrice(StripeObjects.price("price_team").licensed().unitAmount(5000));
    stripe.definePrice(StripeObjects.price("price_team_calls").metered("mtr_calls").unitAmount(1));
    gateway = GatewayHarness.start("""
        routes: []
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
          pro: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 1000, stripePrices: [price_pro] }
          team: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 5000, stripePrices: [price_team, price_team_calls] }
        billing:
          checkoutSuccessUrl: https://app.example.com/billing/done
          checkoutCancelUrl: https://app.example.com/billing
          creditPacks:
            small: { credits: 5000, stripePrice: price_small, amount: 500 }
        stripe: { apiBase: "%s", meterEventsBase: "%s", syncIntervalMs: 3600000 }
        """.formatted(stripe.baseUrl(), stripe.baseUrl()), Map.of("STRIPE_API_KEY", STRIPE_KEY));
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  private static String link(long account) {
    return GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + account + "/customer-link",
        new JsonObject()).json().getString("path");
  }

  @Test
  @DisplayName("an account with a Stripe customer gets a Manage billing button that opens a portal session for that customer")
  void portal() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Portal Co"));
    // Checkout creates (and links) the account's Stripe customer.
    assertThat(GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout",
        new JsonObject().put("pack", "small")).status()).isEqualTo(201);
    String path = link(account);
    ConsoleClient customer = new ConsoleClient(vertx, gateway.adminPort());
    assertThat(customer.get(path).text()).contains("id=\"manage-billing\"").contains("action=\"" + path + "/portal\"");
    int before = stripe.portalSessions();
    HttpTestClient.Reply reply = customer.post(path + "/portal", Map.of());
    assertThat(reply.status()).isEqualTo(303);
    assertThat(reply.headers().get("location")).startsWith("https://billing.stripe.com/p/session/");
    assertThat(stripe.portalSessions()).isEqualTo(before + 1);
  }

  @Test
  @DisplayName("without a Stripe customer there is no button, and posting anyway says billing is not set up; a bad token opens nothing")
  void noCustomer() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "No Stripe Yet"));
    String path = link(account);
    ConsoleClient customer = new ConsoleClient(vertx, gateway.adminPort());
    assertThat(customer.get(path).text()).doesNotContain("manage-billing");
    int before = stripe.portalSessions();
    HttpTestClient.Reply reply = customer.post(path + "/portal", Map.of());
    assertThat(reply.status()).isEqualTo(303);
    assertThat(customer.get(reply.headers().get("location")).text()).contains("Billing is not set up for this account yet");
    assertThat(customer.post("/console/customer/c1." + account + ".9999999999.forged/portal", Map.of()).status()).isEqualTo(404);
    assertThat(stripe.portalSessions()).isEqualTo(before);
  }

  @Test
  @DisplayName("the operator's account page makes a portal link for the account's customer")
  void operatorPortalLink() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Operator Portal"));
    assertThat(GatewayHarness.adminCall(gateway, vertx, HttpMethod.POST, "/admin/v1/accounts/" + account + "/checkout",
        new JsonObject().put("pack", "small")).status()).isEqualTo(201);
    ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
    c.signIn(GatewayHarness.ADMIN_TOKEN);
    int before = stripe.portalSessions();
    HttpTestClient.Reply page = c.post("/console/accounts/" + account + "/portal", Map.of("_csrf", c.csrf()));
    assertThat(page.status()).isEqualTo(200);
    assertThat(page.text()).contains("id=\"portal-link\" href=\"https://billing.stripe.com/p/session/");
    assertThat(stripe.portalSessions()).isEqualTo(before + 1);

    long noCustomer = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "No Customer"));
    assertThat(c.get("/console/accounts/" + noCustomer).text()).doesNotContain("create-portal");
    assertThat(c.post("/console/accounts/" + noCustomer + "/portal", Map.of("_csrf", c.csrf())).status()).isEqualTo(409);
  }

  private static JsonArray audit(String query) {
    return GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/audit-log?" + query, null).json().getJsonArray("data");
  }

  /** The Checkout session id at the end of a (fake) Stripe Checkout URL. */
  private static String sessionId(String url) {
    assertThat(url).startsWith("https://checkout.stripe.com/c/pay/");
    return url.substring("https://checkout.stripe.com/c/pay/".length());
  }

  @Test
  @DisplayName("Upgrade on the customer page opens a Checkout session for the chosen plan (its prices, the account's new customer) and audits it; a second one while that subscription is live is refused with a clear message")
  void upgrade() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Upgrader"));
    String path = link(account);
    ConsoleClient customer = new ConsoleClient(vertx, gateway.adminPort());
    String page = customer.get(path).text();
    assertThat(page).contains("id=\"upgrade\"").contains("action=\"" + path + "/checkout\"")
        .contains("<option value=\"pro\">pro</option>").contains("<option value=\"team\">team</option>")
        .doesNotContain("<option value=\"free\"");
    int sessions = stripe.checkoutSessions();
    HttpTestClient.Reply reply = customer.post(path + "/checkout", Map.of("plan", "team", "once", "upgrade-once-1"));
    assertThat(reply.status()).isEqualTo(303);
    String session = sessionId(reply.headers().get("location"));
    assertThat(stripe.checkoutSessions()).isEqualTo(sessions + 1);
    JsonObject sent = stripe.checkoutParams(session).orElseThrow();
    assertThat(sent.getString("mode")).isEqualTo("subscription");
    assertThat(sent.getJsonArray("line_items").getJsonObject(0).getString("price")).isEqualTo("price_team");
    assertThat(sent.getJsonArray("line_items").getJsonObject(0).getString("quantity")).isEqualTo("1");
    assertThat(sent.getJsonArray("line_items").getJsonObject(1).getString("price")).isEqualTo("price_team_calls");
    assertThat(sent.getJsonObject("metadata").getString("tollgate_plan")).isEqualTo("team");
    assertThat(sent.getJsonObject("metadata").getString("tollgate_account_id")).isEqualTo(Long.toString(account));
    assertThat(sent.getString("success_url")).isEqualTo("https://app.example.com/billing/done");
    String customerId = GatewayHarness.adminCall(gateway, vertx, HttpMethod.GET, "/admin/v1/accounts/" + account, null).json()
        .getString("stripeCustomerId");
    assertThat(customerId).isNotNull();
    assertThat(sent.getString("customer")).isEqualTo(customerId);
    JsonArray audited = audit("actor=console&action=billing.checkout&resourceId=" + account);
    assertThat(audited.size()).isEqualTo(1);
    assertThat(audited.getJsonObject(0).getJsonObject("after").getString("plan")).isEqualTo("team");

    // The same form sent again (a double click) is the same session, not a second one.
    assertThat(customer.post(path + "/checkout", Map.of("plan", "team", "once", "upgrade-once-1")).headers().get("location"))
        .isEqualTo(reply.headers().get("location"));

    // Paid in Stripe, its events not delivered yet: Stripe lists the live subscription, and the page says so.
    stripe.completeCheckout(session);
    sessions = stripe.checkoutSessions();
    HttpTestClient.Reply again = customer.post(path + "/checkout", Map.of("plan", "pro", "once", "upgrade-once-2"));
    assertThat(again.status()).isEqualTo(303);
    assertThat(again.headers().get("location")).isEqualTo(path + "?billing=subscribed");
    assertThat(customer.get(again.headers().get("location")).text())
        .contains("You already have a subscription: change your plan with Manage billing.");
    assertThat(stripe.checkoutSessions()).isEqualTo(sessions);
  }

  @Test
  @DisplayName("Upgrade refuses a plan that is not sold through Stripe, and a forged or other account's token opens nothing")
  void upgradeRefusals() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Careful Upgrader"));
    String path = link(account);
    ConsoleClient customer = new ConsoleClient(vertx, gateway.adminPort());
    int sessions = stripe.checkoutSessions();
    HttpTestClient.Reply free = customer.post(path + "/checkout", Map.of("plan", "free"));
    assertThat(free.status()).isEqualTo(303);
    assertThat(customer.get(free.headers().get("location")).text()).contains("Choose one of the plans offered.");
    assertThat(customer.post(path + "/checkout", Map.of()).headers().get("location")).isEqualTo(path + "?billing=plan");
    assertThat(customer.post("/console/customer/c1." + account + ".9999999999.forged/checkout", Map.of("plan", "pro")).status())
        .isEqualTo(404);
    assertThat(stripe.checkoutSessions()).isEqualTo(sessions);
  }

  @Test
  @DisplayName("the operator's account page makes a Checkout link for a plan (CSRF-protected, audited as the console); with a live subscription it says to change the plan instead")
  void operatorCheckoutLink() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Operator Checkout"));
    ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
    c.signIn(GatewayHarness.ADMIN_TOKEN);
    assertThat(c.get("/console/accounts/" + account).text()).contains("id=\"create-checkout\"")
        .contains("action=\"/console/accounts/" + account + "/checkout\"");
    int sessions = stripe.checkoutSessions();
    assertThat(c.post("/console/accounts/" + account + "/checkout", Map.of("plan", "pro")).status()).isEqualTo(403);
    assertThat(stripe.checkoutSessions()).isEqualTo(sessions);

    HttpTestClient.Reply page = c.post("/console/accounts/" + account + "/checkout", Map.of("_csrf", c.csrf(), "plan", "pro",
        "once", "operator-once-1"));
    assertThat(page.status()).isEqualTo(200);
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("id=\"checkout-link\" href=\"([^\"]+)\"").matcher(page.text());
    assertThat(m.find()).isTrue();
    String session = sessionId(m.group(1));
    assertThat(stripe.checkoutSessions()).isEqualTo(sessions + 1);
    assertThat(stripe.checkoutParams(session).orElseThrow().getJsonArray("line_items").getJsonObject(0).getString("price"))
        .isEqualTo("price_pro");
    assertThat(audit("actor=console&action=billing.checkout&resourceId=" + account).size()).isEqualTo(1);
    assertThat(c.post("/console/accounts/" + account + "/checkout", Map.of("_csrf", c.csrf(), "plan", "free")).status()).isEqualTo(400);

    stripe.completeCheckout(session);
    sessions = stripe.checkoutSessions();
    HttpTestClient.Reply refused = c.post("/console/accounts/" + account + "/checkout", Map.of("_csrf", c.csrf(), "plan", "pro",
        "once", "operator-once-2"));
    assertThat(refused.text()).contains("id=\"error\"").contains("already has a live subscription")
        .contains("/admin/v1/accounts/" + account + "/plan-change");
    assertThat(stripe.checkoutSessions()).isEqualTo(sessions);
  }

  @Test
  @DisplayName("an account whose billing state has a live subscription gets no Upgrade button, and the account page offers the plan change instead of a Checkout link")
  void liveSubscriptionHidesCheckout() {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Already Subscribed"));
    io.vertx.sqlclient.Pool pg = GatewayHarness.postgres(vertx);
    try {
      GatewayHarness.count(pg, "WITH b AS (INSERT INTO account_billing (account_id, stripe_subscription_id, subscription_status) "
          + "VALUES ($1, 'sub_console_hidden', 'past_due') RETURNING 1) SELECT count(*) FROM b", account);
    } finally {
      await(pg.close());
    }
    String path = link(account);
    assertThat(new ConsoleClient(vertx, gateway.adminPort()).get(path).text()).doesNotContain("id=\"upgrade\"")
        .doesNotContain("upgrade-form");
    ConsoleClient c = new ConsoleClient(vertx, gateway.adminPort());
    c.signIn(GatewayHarness.ADMIN_TOKEN);
    assertThat(c.get("/console/accounts/" + account).text()).contains("id=\"plan-change-note\"").doesNotContain("id=\"create-checkout\"")
        .contains("/admin/v1/accounts/" + account + "/plan-change");
  }
}
