package io.tollgate.gateway.webhooks;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.gateway.ops.Problems;
import io.tollgate.stripesync.webhooks.StripeEvent;
import io.tollgate.stripesync.webhooks.StripeEventStore;
import io.tollgate.stripesync.webhooks.WebhookRejected;
import io.tollgate.stripesync.webhooks.WebhookVerifier;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /webhooks/stripe} on the public port. The raw body is verified against
 * {@code Stripe-Signature} before anything is parsed or stored; a genuine event is stored by its
 * id and answered 200 at once (a redelivery is answered 200 too, and changes nothing); the
 * worker applies it afterwards. Every refusal names what was wrong and stores nothing. When
 * Postgres cannot take the event the answer is 503, so Stripe delivers it again later.
 */
public final class WebhookIntake {

  public static final String PATH = "/webhooks/stripe";
  private static final Logger log = LoggerFactory.getLogger(WebhookIntake.class);
  /** Stripe's events are far smaller; anything bigger is not one of them. */
  static final int MAX_BODY_BYTES = 1024 * 1024;

  private final Optional<WebhookVerifier> verifier;
  private final Pool pool;
  private final StripeEventStore store;
  private final Runnable stored;
  private final MeterRegistry registry;

  public WebhookIntake(Optional<WebhookVerifier> verifier, Pool pool, StripeEventStore store, Runnable stored, MeterRegistry registry) {
    this.verifier = verifier;
    this.pool = pool;
    this.store = store;
    this.stored = stored;
    this.registry = registry;
    // Registered at zero, so that rate() and increase() see the first delivery after a restart.
    for (String result : java.util.List.of("stored", "duplicate", "refused_bad_signature", "refused_expired", "refused_missing_signature",
        "refused_malformed_event", "refused_not_configured", "refused_too_large", "refused_store_failed")) {
      count(result, 0);
    }
  }

  public void handle(HttpServerRequest request) {
    if (request.method() != HttpMethod.POST) {
      request.response().putHeader("allow", "POST");
      refuse(request, 405, "method-not-allowed", "Method not allowed", "Stripe webhooks are delivered with POST", "method");
      return;
    }
    if (verifier.isEmpty()) {
      refuse(request, 503, "webhooks-not-configured", "Webhooks not configured",
          "Stripe webhooks are off: set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_...)", "not_configured");
      return;
    }
    String declared = request.getHeader("content-length");
    if (declared != null) {
      try {
        if (Long.parseLong(declared.trim()) > MAX_BODY_BYTES) {
          tooLarge(request);
          return;
        }
      } catch (NumberFormatException e) {
        refuse(request, 400, "invalid-request", "Invalid request", "Content-Length is not a number", "malformed");
        return;
      }
    }
    Buffer body = Buffer.buffer();
    boolean[] refused = {false};
    request.handler(chunk -> {
      if (refused[0]) {
        return;
      }
      if (body.length() + chunk.length() > MAX_BODY_BYTES) {
        refused[0] = true;
        tooLarge(request);
        return;
      }
      body.appendBuffer(chunk);
    });
    request.exceptionHandler(err -> log.debug("Stripe webhook delivery broke off: {}", err.toString()));
    request.endHandler(v -> {
      if (!refused[0]) {
        accept(request, body.toString(StandardCharsets.UTF_8));
      }
    });
  }

  private void accept(HttpServerRequest request, String payload) {
    StripeEvent event;
    try {
      event = verifier.get().verify(payload, request.getHeader("stripe-signature"));
    } catch (WebhookRejected e) {
      log.warn("Stripe webhook refused ({}): {}", e.reason(), e.getMessage());
      refuse(request, 400, "invalid-webhook", "Invalid Stripe webhook", e.getMessage(), e.reason().name().toLowerCase());
      return;
    } catch (RuntimeException e) {
      // Nothing may leave a delivery unanswered: an exception escaping this end handler would.
      log.warn("Stripe webhook refused (unreadable): {}", e.toString());
      refuse(request, 400, "invalid-webhook", "Invalid Stripe webhook",
          "the delivery could not be read as a signed Stripe event: " + e.getClass().getSimpleName(), "malformed_event");
      return;
    }
    Future.<Boolean>future(p -> store.insert(pool, event, payload).onComplete(p)).onSuccess(inserted -> {
      count(inserted ? "stored" : "duplicate");
      request.response().setStatusCode(200).putHeader("content-type", "application/json")
          .end(new JsonObject().put("received", true).put("id", event.id()).put("duplicate", !inserted).toBuffer());
      if (inserted) {
        stored.run();
      }
    }).onFailure(err -> {
      log.warn("could not store Stripe event {} {} (answered 503 so Stripe redelivers it): {}", event.id(), event.type(), err.toString());
      refuse(request, 503, "unavailable", "Service unavailable", "the event could not be stored yet; Stripe will deliver it again",
          "store_failed");
    });
  }

  private void tooLarge(HttpServerRequest request) {
    request.response().putHeader("connection", "close");
    refuse(request, 413, "payload-too-large", "Payload too large", "a Stripe event is at most " + MAX_BODY_BYTES + " bytes",
        "too_large");
  }

  private void refuse(HttpServerRequest request, int status, String code, String title, String detail, String reason) {
    count("refused_" + reason);
    Problems.send(request, status, code, title, detail);
  }

  private void count(String result) {
    count(result, 1);
  }

  private void count(String result, int n) {
    Counter.builder("tollgate_stripe_webhooks_received").description("Stripe webhook deliveries by result")
        .tag("result", result).register(registry).increment(n);
  }
}
