package io.tollgate.stripesync.fake;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.config.Secret;
import io.tollgate.stripesync.webhooks.StripeEvent;
import io.tollgate.stripesync.webhooks.WebhookRejected;
import io.tollgate.stripesync.webhooks.WebhookVerifier;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("WebhookSender delivers events as Stripe does, and can forge, age or drop the signature")
class WebhookSenderTest {

  private static final String SECRET = "whsec_sender_test";
  private static final String API_KEY = "sk_test_sender_0123456789";
  private static final List<String> received = new CopyOnWriteArrayList<>();
  private static Vertx vertx;
  private static HttpServer receiver;
  private static FakeStripe stripe;
  private static WebhookSender sender;
  private static String url;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    WebhookVerifier verifier = new WebhookVerifier(List.of(Secret.of(SECRET)), Duration.ofMinutes(5), Clock.systemUTC());
    receiver = await(vertx.createHttpServer().requestHandler(req -> receive(req, verifier)).listen(0, "127.0.0.1"));
    url = "http://127.0.0.1:" + receiver.actualPort() + "/webhooks/stripe";
    stripe = await(new FakeStripe(vertx, API_KEY).start());
    sender = new WebhookSender(vertx, SECRET);
  }

  /** A minimal endpoint: Tollgate's verifier on the raw body, 200 with the event id, or 400 with the reason. */
  private static void receive(HttpServerRequest req, WebhookVerifier verifier) {
    req.body().onSuccess(body -> {
      try {
        StripeEvent event = verifier.verify(body.toString(), req.getHeader("stripe-signature"));
        received.add(event.id());
        req.response().setStatusCode(200).end(new JsonObject().put("received", event.id()).encode());
      } catch (WebhookRejected e) {
        req.response().setStatusCode(400).end(e.reason().name());
      }
    });
  }

  @AfterAll
  static void stop() throws Exception {
    await(sender.close());
    await(stripe.close());
    await(receiver.close());
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test
  @DisplayName("a signed event is accepted, and the endpoint's answer comes back")
  void delivered() {
    JsonObject event = StripeObjects.paymentIntent().customer("cus_w").succeededEvent().id("evt_sender_ok").json();
    WebhookSender.Delivery delivery = await(sender.send(url, event));
    assertThat(delivery.status()).isEqualTo(200);
    assertThat(new JsonObject(delivery.body()).getString("received")).isEqualTo("evt_sender_ok");
  }

  @Test
  @DisplayName("an old timestamp, another secret, no header or a malformed one are refused, each for its reason")
  void refused() {
    String payload = StripeObjects.customer().createdEvent().payload();
    long tenMinutesAgo = Instant.now().minusSeconds(600).getEpochSecond();
    assertThat(await(sender.signedAt(tenMinutesAgo).send(url, payload))).isEqualTo(new WebhookSender.Delivery(400, "EXPIRED"));
    assertThat(await(sender.withSecret("whsec_forged").send(url, payload))).isEqualTo(new WebhookSender.Delivery(400, "BAD_SIGNATURE"));
    assertThat(await(sender.withSignatureHeader(null).send(url, payload)))
        .isEqualTo(new WebhookSender.Delivery(400, "MISSING_SIGNATURE"));
    assertThat(await(sender.withSignatureHeader("t=1,v1=00").send(url, payload))).isEqualTo(new WebhookSender.Delivery(400, "BAD_SIGNATURE"));
    assertThat(await(sender.withSignatureHeader("v1=00").send(url, payload))).isEqualTo(new WebhookSender.Delivery(400, "BAD_SIGNATURE"));
  }

  @Test
  @DisplayName("the events of a completed Checkout session all arrive, in order")
  void fakeEventsEndToEnd() throws Exception {
    com.stripe.StripeClient client = com.stripe.StripeClient.builder().setApiKey(API_KEY).setApiBase(stripe.baseUrl()).build();
    String customer = client.v1().customers().create(com.stripe.param.CustomerCreateParams.builder().setName("E2E").build()).getId();
    String session = client.v1().checkout().sessions().create(com.stripe.param.checkout.SessionCreateParams.builder().setCustomer(customer)
        .setMode(com.stripe.param.checkout.SessionCreateParams.Mode.SUBSCRIPTION).setClientReferenceId("42")
        .addLineItem(com.stripe.param.checkout.SessionCreateParams.LineItem.builder().setPrice("price_e2e").setQuantity(1L).build())
        .setSuccessUrl("https://app.test/ok").build()).getId();
    List<JsonObject> events = stripe.completeCheckout(session);
    received.clear();
    for (JsonObject event : events) {
      assertThat(await(sender.send(url, event)).status()).isEqualTo(200);
    }
    assertThat(received).containsExactlyElementsOf(events.stream().map(e -> e.getString("id")).toList());
  }
}
