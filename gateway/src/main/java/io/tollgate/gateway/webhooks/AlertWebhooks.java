package io.tollgate.gateway.webhooks;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.AlertsConfig;
import io.tollgate.config.Secret;
import io.tollgate.metering.alerts.NotificationStore;
import io.tollgate.metering.alerts.NotificationStore.Delivery;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.WebClient;
import io.vertx.ext.web.client.WebClientOptions;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers notifications to accounts' webhook URLs: a JSON POST signed like Stripe's webhooks,
 * {@code Tollgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>}, with
 * the notification id in {@code Tollgate-Event-Id} for the receiver's deduplication.
 *
 * <p>Due rows are leased ({@link NotificationStore#leaseDue}, {@code FOR UPDATE SKIP LOCKED}): the lease moves their next attempt
 * to the backoff time before the POST, so several instances never send the same attempt, and a
 * crash mid-POST only means the next attempt comes after the backoff. A 2xx marks the row
 * delivered; anything else is retried with exponential backoff until {@code maxAttempts}, then
 * marked failed and counted. Delivery is at least once; receivers deduplicate by event id.
 */
public final class AlertWebhooks {

  private static final Logger log = LoggerFactory.getLogger(AlertWebhooks.class);
  public static final String SIGNATURE_HEADER = "Tollgate-Signature";
  public static final String EVENT_ID_HEADER = "Tollgate-Event-Id";
  private static final int BATCH = 20;

  private final NotificationStore notifications;
  private final WebClient client;
  private final AlertsConfig config;
  private final Optional<Secret> secret;
  private final Clock clock;
  private final Counter failures;
  private final Counter delivered;

  public AlertWebhooks(Vertx vertx, NotificationStore notifications, AlertsConfig config, Optional<Secret> secret, Clock clock,
                       MeterRegistry registry) {
    this.notifications = notifications;
    this.config = config;
    this.secret = secret;
    this.clock = clock;
    this.client = WebClient.create(vertx, new WebClientOptions()
        .setConnectTimeout((int) Math.min(Integer.MAX_VALUE, config.timeout().toMillis()))
        .setFollowRedirects(false)
        .setUserAgent("Tollgate-Alerts/1"));
    this.failures = Counter.builder("tollgate_alert_webhook_failures")
        .description("Alert webhooks given up after every attempt failed").register(registry);
    this.delivered = Counter.builder("tollgate_alert_webhooks_delivered")
        .description("Alert webhooks the receiver acknowledged with a 2xx").register(registry);
  }

  /** Sends what is due; returns how many were delivered in this pass. */
  public Future<Integer> deliverDue() {
    if (secret.isEmpty()) {
      return Future.succeededFuture(0);
    }
    double baseSeconds = config.retryBase().toMillis() / 1000.0;
    // The lease lasts at least one POST's timeout, so a slow receiver is never sent the same attempt twice.
    double timeoutSeconds = config.timeout().toMillis() / 1000.0 + 1;
    return notifications.leaseDue(baseSeconds, BATCH, timeoutSeconds).compose(due -> {
      List<Future<Boolean>> sends = new ArrayList<>();
      for (Delivery d : due) {
        sends.add(send(d));
      }
      return Future.join(sends).transform(ar -> {
        int ok = 0;
        for (Future<Boolean> f : sends) {
          if (f.succeeded() && f.result()) {
            ok++;
          }
        }
        return Future.succeededFuture(ok);
      });
    });
  }

  private Future<Boolean> send(Delivery d) {
    long id = d.id();
    String url = d.webhookUrl();
    JsonObject body = new JsonObject().put("id", Long.toString(id)).put("kind", d.kind())
        .put("threshold", d.threshold()).put("createdAt", d.createdAt().toString())
        .put("data", d.payload());
    if (url == null) {
      return outcome(id, false, "the account has no alertWebhookUrl any more");
    }
    Buffer payload = body.toBuffer();
    long timestamp = clock.instant().getEpochSecond();
    String signature = "t=" + timestamp + ",v1=" + sign(secret.get(), timestamp, payload);
    return client.postAbs(url).timeout(config.timeout().toMillis())
        .putHeader("content-type", "application/json").putHeader(SIGNATURE_HEADER, signature)
        .putHeader(EVENT_ID_HEADER, Long.toString(id))
        .sendBuffer(payload)
        .transform(ar -> {
          if (ar.succeeded() && ar.result().statusCode() / 100 == 2) {
            return outcome(id, true, null);
          }
          String error = ar.succeeded() ? "HTTP " + ar.result().statusCode() : ar.cause().getClass().getSimpleName()
              + (ar.cause().getMessage() == null ? "" : ": " + ar.cause().getMessage());
          return outcome(id, false, error.length() > 500 ? error.substring(0, 500) : error);
        });
  }

  private Future<Boolean> outcome(long id, boolean ok, String error) {
    if (ok) {
      delivered.increment();
      return notifications.delivered(id).map(true);
    }
    return notifications.failed(id, error, config.maxAttempts()).map(gaveUp -> {
      if (gaveUp) {
        failures.increment();
        log.warn("alert webhook for notification {} failed {} times; giving up: {}", id, config.maxAttempts(), error);
      } else {
        log.info("alert webhook for notification {} failed ({}); will retry", id, error);
      }
      return false;
    });
  }

  /** Hex HMAC-SHA256 of {@code "<timestamp>.<body>"}: what a receiver recomputes to verify a delivery. */
  public static String sign(Secret secret, long timestamp, Buffer body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.reveal().getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      mac.update((timestamp + ".").getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(mac.doFinal(body.getBytes()));
    } catch (NoSuchAlgorithmException | InvalidKeyException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  public void close() {
    client.close();
  }
}
