package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.stripesync.fake.FakeStripe;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The customer page's "Manage billing" against a fake Stripe driven by the real stripe-java client. */
@DisplayName("Customer page: manage billing through the Stripe Customer Portal")
class ConsoleCustomerBillingTest {

  private static final String STRIPE_KEY = "sk_test_console_0123456789";
  private static GatewayHarness harness;
  private static Vertx vertx;
  private static FakeStripe stripe;
  private static Tollgate gateway;

  @BeforeAll
  static void start() {
    harness = new GatewayHarness();
    vertx = harness.stubVertx;
    stripe = await(new FakeStripe(vertx, STRIPE_KEY).start());
    gateway = GatewayHarness.start("""
        routes: []
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
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
    harness.close();
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
}
