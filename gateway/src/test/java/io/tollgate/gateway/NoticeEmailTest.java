package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetupTest;
import io.tollgate.stripesync.fake.StripeIds;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import jakarta.mail.BodyPart;
import jakarta.mail.Multipart;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayOutputStream;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Notices by email through a real SMTP server (GreenMail): once per notice, to the account's recipients, text and HTML, opt-outs, no secrets")
class NoticeEmailTest {

  private static final String WEBHOOK_SECRET = "whsec_mail_0123456789abcdef";
  private static final String SMTP_PASSWORD = "smtp-pass-7f3a9c0d2e";
  private static final String FROM = "billing@tollgate.test";
  private static final long PACK_CREDITS = 1000;
  private static final long PACK_PRICE = 1500;
  private static GreenMail smtp;
  private static GatewayHarness harness;
  private static Vertx vertx;
  private static Tollgate gateway;
  private static Webhooks webhooks;

  @BeforeAll
  static void start() {
    smtp = new GreenMail(ServerSetupTest.SMTP.dynamicPort());
    smtp.start();
    smtp.setUser(FROM, "tollgate", SMTP_PASSWORD);
    harness = new GatewayHarness();
    vertx = harness.stubVertx;
    gateway = GatewayHarness.start("""
        routes:
          - { prefix: /flat/, upstream: "%s/v1/", flatCost: 100 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
          starter: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 1000, alertThresholds: [50] }
        billing:
          creditPacks:
            small: { credits: %d, stripePrice: price_small, amount: %d }
        alerts:
          retryBaseMs: 50
          email: { host: 127.0.0.1, port: %d, from: %s, username: tollgate, startTls: disabled }
        metering: { flushIntervalMs: 50 }
        """.formatted(harness.stubBase(), PACK_CREDITS, PACK_PRICE, smtp.getSmtp().getPort(), FROM),
        Map.of("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET, "TOLLGATE_SMTP_PASSWORD", SMTP_PASSWORD));
    webhooks = new Webhooks(vertx, gateway, WEBHOOK_SECRET);
  }

  @AfterAll
  static void stop() {
    gateway.close();
    harness.close();
    smtp.stop();
  }

  private static HttpTestClient.Reply admin(HttpMethod method, String uri, JsonObject body) {
    return GatewayHarness.adminCall(gateway, vertx, method, uri, body);
  }

  private static void eventually(String what, Supplier<Boolean> condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 20 s: " + what);
      }
      await(vertx.timer(50));
    }
  }

  /** The account's notification of this kind, as the admin API lists it. */
  private static JsonObject notice(long account, String kind) {
    return admin(HttpMethod.GET, "/admin/v1/notifications?accountId=" + account, null).json().getJsonArray("data").stream()
        .map(JsonObject.class::cast).filter(n -> n.getString("kind").equals(kind)).findFirst().orElse(null);
  }

  private static String emailStatus(long account, String kind) {
    JsonObject n = notice(account, kind);
    return n == null ? null : n.getJsonObject("email").getString("status");
  }

  /** What reached this recipient's mailbox (GreenMail keeps one per recipient). */
  private static List<MimeMessage> mailsTo(String address) {
    return smtp.findReceivedMessages(u -> u.getEmail().equals(address), m -> true).toList();
  }

  private static String raw(MimeMessage m) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    m.writeTo(out);
    return out.toString(java.nio.charset.StandardCharsets.UTF_8);
  }

  private static JsonObject buyPack(long account) {
    return buyPack(account, StripeIds.next("cus"));
  }

  private static JsonObject buyPack(long account, String customer) {
    JsonObject event = StripeObjects.checkoutSession().customer(customer).account(account).paymentIntent(StripeIds.next("pi"))
        .amountTotal(PACK_PRICE).creditPack("small", PACK_CREDITS).completedEvent().created(Instant.now()).json();
    JsonObject done = webhooks.deliverAndWait(event);
    assertThat(done.getString("status")).as(done.getString("lastError")).isEqualTo("processed");
    return event;
  }

  @Test
  @DisplayName("A credit pack's receipt is mailed once to each recipient, as plain text and HTML, from the configured sender, with no key or secret in it")
  void receiptOnce() throws Exception {
    long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "Acme <Labs>").put("plan", "starter"));
    String apiKey = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
    JsonObject settings = admin(HttpMethod.PUT, "/admin/v1/accounts/" + account + "/email",
        new JsonObject().put("recipients", new JsonArray().add("owner@acme.test").add("ops@acme.test"))).json();
    assertThat(settings.getJsonArray("sendsTo").getList()).containsExactly("owner@acme.test", "ops@acme.test");

    JsonObject event = buyPack(account);
    eventually("the receipt is sent", () -> "sent".equals(emailStatus(account, "top_up_receipt")));
    // The same event again, and under another delivery: no second notice, so no second mail.
    webhooks.deliverAndWait(event);

    // A later notice of the same account (its usage crossing 50 % of the plan's credits) is mailed after any duplicate would have been.
    for (int i = 0; i < 5; i++) {
      assertThat(await(new HttpTestClient(vertx, false, apiKey).send(HttpMethod.GET, gateway.proxyPort(), "/flat/models",
          GatewayHarness.bearer(apiKey), null)).status()).isEqualTo(200);
    }
    eventually("the usage alert is sent", () -> "sent".equals(emailStatus(account, "usage_threshold")));

    List<MimeMessage> owner = mailsTo("owner@acme.test");
    List<MimeMessage> receipts = owner.stream().filter(m -> subject(m).startsWith("Receipt")).toList();
    assertThat(receipts).hasSize(1);
    assertThat(mailsTo("ops@acme.test").stream().filter(m -> subject(m).startsWith("Receipt"))).hasSize(1);
    assertThat(owner.stream().filter(m -> subject(m).contains("50%"))).hasSize(1);

    MimeMessage receipt = receipts.get(0);
    assertThat(receipt.getFrom()[0].toString()).isEqualTo(FROM);
    assertThat(receipt.getSubject()).isEqualTo("Receipt: 1000 credits added");
    Multipart parts = (Multipart) receipt.getContent();
    assertThat(parts.getContentType()).startsWith("multipart/alternative");
    String text = null;
    String html = null;
    for (int i = 0; i < parts.getCount(); i++) {
      BodyPart part = parts.getBodyPart(i);
      if (part.isMimeType("text/plain")) {
        text = (String) part.getContent();
      } else if (part.isMimeType("text/html")) {
        html = (String) part.getContent();
      }
    }
    assertThat(text).contains("Hello Acme <Labs>,").contains("1000 credits").contains("15.00 USD");
    assertThat(html).contains("Hello Acme &lt;Labs&gt;,").contains("15.00 USD").doesNotContain("<Labs>");
    for (MimeMessage m : smtp.getReceivedMessages()) {
      String all = raw(m);
      assertThat(all).doesNotContain(apiKey).doesNotContain(apiKey.substring(apiKey.length() - 20))
          .doesNotContain(SMTP_PASSWORD).doesNotContain(WEBHOOK_SECRET).doesNotContain("tg_live_").doesNotContain("tg_test_");
    }
    JsonObject n = notice(account, "top_up_receipt");
    assertThat(n.getJsonObject("email").getInteger("attempts")).isEqualTo(1);
  }

  private static String subject(MimeMessage m) {
    try {
      return m.getSubject();
    } catch (jakarta.mail.MessagingException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  @DisplayName("An opted-out kind, and an account with no recipient, are skipped and mailed to nobody; the Stripe customer's email is the fallback recipient")
  void optOutsAndRecipients() {
    long optedOut = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "quiet"));
    admin(HttpMethod.PUT, "/admin/v1/accounts/" + optedOut + "/email", new JsonObject()
        .put("recipients", new JsonArray().add("quiet@acme.test")).put("optOut", new JsonArray().add("top_up_receipt")));
    long nobody = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "nobody"));
    buyPack(optedOut);
    buyPack(nobody);
    eventually("the opted-out receipt is skipped", () -> "skipped".equals(emailStatus(optedOut, "top_up_receipt")));
    eventually("the receipt without a recipient is skipped", () -> "skipped".equals(emailStatus(nobody, "top_up_receipt")));
    assertThat(mailsTo("quiet@acme.test")).isEmpty();
    assertThat(notice(nobody, "top_up_receipt").getJsonObject("email").getString("lastError")).contains("no recipient");

    HttpTestClient.Reply bad = admin(HttpMethod.PUT, "/admin/v1/accounts/" + optedOut + "/email",
        new JsonObject().put("optOut", new JsonArray().add("refund_shortfall")));
    assertThat(bad.status()).isEqualTo(400);
    assertThat(bad.json().getString("detail")).contains("optOut").contains("refund_shortfall");
    HttpTestClient.Reply notAnAddress = admin(HttpMethod.PUT, "/admin/v1/accounts/" + optedOut + "/email",
        new JsonObject().put("recipients", new JsonArray().add("owner at acme")));
    assertThat(notAnAddress.status()).isEqualTo(400);
    assertThat(notAnAddress.json().getString("detail")).contains("recipients").contains("owner at acme");
    // A NUL passes the address pattern ("\\s" does not match it) and Postgres refuses it: a 400 naming it, not a 500.
    HttpTestClient.Reply withNul = admin(HttpMethod.PUT, "/admin/v1/accounts/" + optedOut + "/email",
        new JsonObject().put("recipients", new JsonArray().add("owner\u0000@acme.test")));
    assertThat(withNul.status()).isEqualTo(400);
    assertThat(withNul.json().getString("detail")).contains("recipients").contains("U+0000");

    // No recipients of its own: the Stripe customer's email (customer.updated) receives the mail.
    long customer = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "stripe customer"));
    String cus = StripeIds.next("cus");
    JsonObject linked = webhooks.deliverAndWait(StripeObjects.customer().id(cus).metadata("tollgate_account_id", Long.toString(customer))
        .email("billing@customer.test").updatedEvent(new JsonObject()).created(Instant.now()).json());
    assertThat(linked.getString("status")).as(linked.getString("lastError")).isEqualTo("processed");
    assertThat(admin(HttpMethod.GET, "/admin/v1/accounts/" + customer + "/email", null).json().getJsonArray("sendsTo").getList())
        .containsExactly("billing@customer.test");
    buyPack(customer, cus);
    eventually("the receipt reaches the customer's email", () -> mailsTo("billing@customer.test").size() == 1);
  }
}
