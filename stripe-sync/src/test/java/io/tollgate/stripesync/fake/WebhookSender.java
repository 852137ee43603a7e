package io.tollgate.stripesync.fake;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.time.Clock;

/**
 * Delivers events as Stripe does: {@code POST} of the JSON body with {@code Content-Type:
 * application/json; charset=utf-8}, Stripe's {@code User-Agent} and a {@code Stripe-Signature}
 * under the endpoint's secret at the current time. Variants sign at another time, under another
 * secret, or send a header of the caller's own, for testing what the receiver refuses.
 *
 * <pre>{@code
 * WebhookSender sender = new WebhookSender(vertx, "whsec_test");
 * Delivery d = sender.send("http://127.0.0.1:8081/webhooks/stripe", event.json()).await(10, TimeUnit.SECONDS);
 * assertThat(d.status()).isEqualTo(200);   // on the test thread: a throw in onSuccess would only be logged
 * sender.signedAt(Instant.now().minusSeconds(600).getEpochSecond()).send(url, event.payload());  // expired
 * sender.withSecret("whsec_wrong").send(url, event.json());                                     // forged
 * sender.withSignatureHeader("t=1,v1=nonsense").send(url, "{not json");                           // malformed
 * }</pre>
 *
 * <p>Instances are immutable; the variants share one HTTP client, closed by {@link #close()} on
 * the instance that was constructed.
 *
 * <p>Every exchange runs on one Vert.x context, never on the caller's thread. Driven from a test
 * thread, Vert.x 5.0.10 occasionally lost the response's end: the body arrived and ended on the
 * event loop before {@code body()}, called on the test thread, had set its handler, and the
 * future never completed (about one delivery in 300 here; eclipse-vertx/vert.x#6038, fixed after
 * 5.0.10). On the context, {@code body()} runs in the same task that delivers the response head.
 */
public final class WebhookSender {

  /** What the endpoint answered. */
  public record Delivery(int status, String body) {
  }

  private final HttpClientAgent client;
  private final Context context;
  private final String secret;
  private final Clock clock;
  private final Long timestamp;
  private final String header;

  public WebhookSender(Vertx vertx, String secret) {
    this(vertx, secret, Clock.systemUTC());
  }

  /** Signs at {@code clock}'s time (so a test clock and a verifier's clock can agree). */
  public WebhookSender(Vertx vertx, String secret, Clock clock) {
    this(vertx.createHttpClient(), vertx.getOrCreateContext(), secret, clock, null, null);
  }

  private WebhookSender(HttpClientAgent client, Context context, String secret, Clock clock, Long timestamp, String header) {
    this.client = client;
    this.context = context;
    this.secret = secret;
    this.clock = clock;
    this.timestamp = timestamp;
    this.header = header;
  }

  /** The same sender, signing with {@code t=epochSeconds} (e.g. ten minutes ago, to be refused as expired). */
  public WebhookSender signedAt(long epochSeconds) {
    return new WebhookSender(client, context, secret, clock, epochSeconds, header);
  }

  /** The same sender, signing under another secret (a forgery, or a rolled secret). */
  public WebhookSender withSecret(String otherSecret) {
    return new WebhookSender(client, context, otherSecret, clock, timestamp, header);
  }

  /** The same sender, sending this {@code Stripe-Signature} verbatim ({@code null}: none at all). */
  public WebhookSender withSignatureHeader(String rawHeader) {
    return new WebhookSender(client, context, secret, clock, timestamp, rawHeader == null ? "" : rawHeader);
  }

  /** POSTs the event, encoded once: the signature covers exactly the bytes sent. */
  public Future<Delivery> send(String url, JsonObject event) {
    return send(url, event.encode());
  }

  /** POSTs this body as it is (it need not be JSON), signed unless told otherwise. */
  public Future<Delivery> send(String url, String payload) {
    long t = timestamp != null ? timestamp : clock.instant().getEpochSecond();
    String signature = header != null ? header : StripeSignature.header(payload, secret, t);
    RequestOptions options = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(url)
        .putHeader("content-type", "application/json; charset=utf-8")
        .putHeader("user-agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
        .putHeader("cache-control", "no-cache").putHeader("accept", "*/*; q=0.5, application/xml");
    if (!signature.isEmpty()) {
      options.putHeader("stripe-signature", signature);
    }
    Promise<Delivery> delivered = Promise.promise();
    context.runOnContext(v -> client.request(options)
        .compose(request -> request.send(payload))
        .compose(response -> response.body().map(body -> new Delivery(response.statusCode(), body.toString())))
        .onComplete(delivered));
    return delivered.future();
  }

  /** Closes the HTTP client shared by this sender and its variants. */
  public Future<Void> close() {
    return client.close();
  }
}
