package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.concurrent.TimeUnit;

/** Delivers Stripe events to a gateway as Stripe does (signed raw body), and waits for the worker to finish them. */
final class Webhooks {

  private final Vertx vertx;
  private final Tollgate gateway;
  private final String secret;

  Webhooks(Vertx vertx, Tollgate gateway, String secret) {
    this.vertx = vertx;
    this.gateway = gateway;
    this.secret = secret;
  }

  /** Signed exactly as Stripe signs (the fake Stripe's signer, proven against stripe-java). */
  static String sign(String payload, String secret, long t) {
    return io.tollgate.stripesync.fake.StripeSignature.header(payload, secret, t);
  }

  HttpTestClient.Reply post(String body, String signature) {
    MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("content-type", "application/json; charset=utf-8");
    if (signature != null) {
      headers.add("stripe-signature", signature);
    }
    return await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.proxyPort(), "/webhooks/stripe", headers, Buffer.buffer(body)));
  }

  /** Delivers a correctly signed event; asserts Stripe would see 200. */
  HttpTestClient.Reply deliver(JsonObject event) {
    String body = event.encode();
    HttpTestClient.Reply reply = post(body, sign(body, secret, Instant.now().getEpochSecond()));
    if (reply.status() != 200) {
      throw new AssertionError("webhook answered " + reply.status() + ": " + reply.text());
    }
    return reply;
  }

  /** Delivers and waits until the event is processed or parked; returns its stored row. */
  JsonObject deliverAndWait(JsonObject event) {
    deliver(event);
    return awaitDone(event.getString("id"));
  }

  JsonObject stored(String id) {
    HttpTestClient.Reply r = await(GatewayHarness.admin(vertx).send(HttpMethod.GET, gateway.adminPort(),
        "/admin/v1/webhooks/stripe/events/" + id, GatewayHarness.adminHeaders(), null));
    return r.status() == 200 ? r.json() : null;
  }

  JsonObject awaitDone(String id) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (System.nanoTime() < deadline) {
      JsonObject row = stored(id);
      if (row != null && !"pending".equals(row.getString("status"))) {
        return row;
      }
      await(vertx.timer(20));
    }
    throw new AssertionError("event " + id + " was not processed in time: " + stored(id));
  }
}
