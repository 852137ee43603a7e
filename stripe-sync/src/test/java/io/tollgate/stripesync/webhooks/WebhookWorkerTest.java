package io.tollgate.stripesync.webhooks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.config.Secret;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import io.vertx.sqlclient.Tuple;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

@DisplayName("Stripe webhooks: signature checks, the event store and the worker")
class WebhookWorkerTest {

  private static Vertx vertx;
  private static Pool pool;
  private final StripeEventStore store = new StripeEventStore();

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    pool = PgBuilder.pool().with(new PoolOptions().setMaxSize(8))
        .connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
    await(pool.query("CREATE TABLE IF NOT EXISTS webhook_test_effects (event_id text PRIMARY KEY)").execute());
  }

  @AfterAll
  static void stop() throws Exception {
    pool.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @BeforeEach
  void clean() {
    // Only this class uses the table in this module's test JVM; leftovers from another test would be claimed.
    await(pool.query("DELETE FROM stripe_events").execute());
    await(pool.query("DELETE FROM webhook_test_effects").execute());
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static String sign(String payload, String secret, long t) {
    return io.tollgate.stripesync.fake.StripeSignature.header(payload, secret, t);
  }

  static JsonObject event(String id, String type, long created) {
    return new JsonObject().put("id", id).put("object", "event").put("api_version", "2025-06-30.basil").put("created", created)
        .put("livemode", false).put("pending_webhooks", 1).put("type", type)
        .put("data", new JsonObject().put("object", new JsonObject().put("id", "cus_test").put("object", "customer")));
  }

  private static String evt() {
    return "evt_" + UUID.randomUUID().toString().replace("-", "");
  }

  @Nested
  @DisplayName("signature")
  class Signature {

    private final long now = Instant.now().getEpochSecond();
    private final String body = event(evt(), "invoice.paid", now).encode();
    private final WebhookVerifier verifier = new WebhookVerifier(List.of(Secret.of("whsec_new"), Secret.of("whsec_old")),
        Duration.ofMinutes(5), Clock.systemUTC());

    @Test
    @DisplayName("a body signed with either secret of a rotation is accepted and read")
    void valid() throws Exception {
      assertThat(verifier.verify(body, sign(body, "whsec_new", now)).type()).isEqualTo("invoice.paid");
      StripeEvent old = verifier.verify(body, sign(body, "whsec_old", now));
      assertThat(old.created()).isEqualTo(Instant.ofEpochSecond(now));
      assertThat(old.object().getString("id")).isEqualTo("cus_test");
    }

    @Test
    @DisplayName("a wrong secret, a changed body, an old timestamp, no header and a non-event body are refused, each said")
    void refused() {
      assertThatThrownBy(() -> verifier.verify(body, sign(body, "whsec_forged", now))).isInstanceOf(WebhookRejected.class)
          .hasMessage("no v1 signature in Stripe-Signature matches the body under the configured signing secret(s)")
          .satisfies(e -> assertThat(((WebhookRejected) e).reason()).isEqualTo(WebhookRejected.Reason.BAD_SIGNATURE));
      assertThatThrownBy(() -> verifier.verify(body.replace("invoice.paid", "invoice.void"), sign(body, "whsec_new", now)))
          .hasMessageContaining("no v1 signature");
      assertThatThrownBy(() -> verifier.verify(body, sign(body, "whsec_new", now - 600)))
          .hasMessageContaining("more than 300 s away from now")
          .satisfies(e -> assertThat(((WebhookRejected) e).reason()).isEqualTo(WebhookRejected.Reason.EXPIRED));
      assertThatThrownBy(() -> verifier.verify(body, null)).hasMessage("the Stripe-Signature header is missing");
      assertThatThrownBy(() -> verifier.verify(body, "garbage")).hasMessageContaining("malformed");
      String notEvent = "{\"id\":\"cus_1\",\"object\":\"customer\"}";
      assertThatThrownBy(() -> verifier.verify(notEvent, sign(notEvent, "whsec_new", now)))
          .hasMessage("the body is not a Stripe event: 'id' must be a Stripe event id (evt_...)");
      assertThatThrownBy(() -> verifier.verify("[1,2]", sign("[1,2]", "whsec_new", now))).hasMessage("the body is not a JSON object");
    }
  }

  private WebhookWorker worker(EventHandler handler, int maxAttempts, SimpleMeterRegistry registry) {
    return new WebhookWorker(vertx, pool, store, handler, Clock.systemUTC(), maxAttempts, Duration.ofMillis(1), registry);
  }

  private String stored(String type) {
    String id = evt();
    assertThat(await(store.insert(pool, StripeEvent.from(event(id, type, Instant.now().getEpochSecond()))))).isTrue();
    return id;
  }

  private JsonObject row(String id) {
    return await(store.get(pool, id)).orElseThrow();
  }

  /** Drains until nothing is due (retries are due a millisecond later). */
  private void drainAll(WebhookWorker w) {
    for (int i = 0; i < 50; i++) {
      await(vertx.timer(5));
      if (await(w.drain()) == 0 && await(store.stats(pool, Instant.now())).pending() == 0) {
        return;
      }
    }
  }

  @Test
  @DisplayName("a redelivered event is not stored twice")
  void duplicate() {
    JsonObject e = event(evt(), "customer.updated", 1_700_000_000L);
    assertThat(await(store.insert(pool, StripeEvent.from(e)))).isTrue();
    assertThat(await(store.insert(pool, StripeEvent.from(e)))).isFalse();
    assertThat(await(pool.query("SELECT count(*) FROM stripe_events").execute()).iterator().next().getLong(0)).isEqualTo(1);
  }

  @Test
  @DisplayName("a failing event is retried with backoff, its writes rolled back each time, until it succeeds")
  void retried() {
    String id = stored("invoice.paid");
    AtomicInteger calls = new AtomicInteger();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    WebhookWorker w = worker((conn, e) -> conn.preparedQuery("INSERT INTO webhook_test_effects VALUES ($1)").execute(Tuple.of(e.id()))
        .compose(v -> calls.incrementAndGet() < 3 ? Future.failedFuture(new IllegalStateException("Postgres hiccup " + calls.get()))
            : Future.succeededFuture(EventHandler.Handled.of("done", 7L))), 5, registry);
    drainAll(w);
    JsonObject r = row(id);
    assertThat(r.getString("status")).isEqualTo("processed");
    assertThat(r.getInteger("attempts")).isEqualTo(3);
    assertThat(r.getString("outcome")).isEqualTo("done");
    assertThat(r.getLong("accountId")).isEqualTo(7L);
    assertThat(r.getString("lastError")).isNull();
    // The failed attempts' inserts were rolled back: the effect exists once.
    assertThat(await(pool.query("SELECT count(*) FROM webhook_test_effects").execute()).iterator().next().getLong(0)).isEqualTo(1);
    assertThat(registry.get("tollgate_stripe_webhook_processed").tag("result", "retried").counter().count()).isEqualTo(2);
  }

  @Test
  @DisplayName("an event that keeps failing is parked with its error; replayed after the fix, it is processed")
  void parkedAndReplayed() {
    String id = stored("customer.subscription.updated");
    boolean[] fixed = {false};
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    WebhookWorker w = worker((conn, e) -> fixed[0] ? Future.succeededFuture(EventHandler.Handled.of("applied", null))
        : Future.failedFuture(new IllegalStateException("no account is linked to Stripe customer cus_test")), 3, registry);
    drainAll(w);
    JsonObject parked = row(id);
    assertThat(parked.getString("status")).isEqualTo("parked");
    assertThat(parked.getInteger("attempts")).isEqualTo(3);
    assertThat(parked.getString("lastError")).isEqualTo("no account is linked to Stripe customer cus_test");
    assertThat(await(w.refreshStats()).parked()).isEqualTo(1);
    assertThat(registry.get("tollgate_stripe_webhook_events").tag("status", "parked").gauge().value()).isEqualTo(1);
    assertThat(await(w.drain())).as("parked events are not retried on their own").isZero();

    fixed[0] = true;
    assertThat(await(store.replay(pool, id, Instant.now()))).isTrue();
    assertThat(await(store.replay(pool, "evt_unknown", Instant.now()))).isFalse();
    drainAll(w);
    assertThat(row(id).getString("status")).isEqualTo("processed");
    assertThat(row(id).getString("outcome")).isEqualTo("applied");
  }

  @Test
  @DisplayName("an unprocessable event is parked at once, without retries")
  void unprocessable() {
    String id = stored("customer.subscription.created");
    WebhookWorker w = worker((conn, e) -> {
      throw new EventHandler.Unprocessable("subscription sub_1 holds no price of the plan catalog");
    }, 8, new SimpleMeterRegistry());
    drainAll(w);
    assertThat(row(id).getString("status")).isEqualTo("parked");
    assertThat(row(id).getInteger("attempts")).isEqualTo(1);
  }

  @Test
  @DisplayName("four workers on separate pools drain 300 events concurrently: each is applied exactly once")
  void concurrentWorkers() throws Exception {
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      ids.add(stored(i % 2 == 0 ? "invoice.paid" : "customer.updated"));
    }
    Map<String, AtomicInteger> applied = new ConcurrentHashMap<>();
    List<Pool> pools = new ArrayList<>();
    List<Future<Integer>> runs = new ArrayList<>();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    for (int i = 0; i < 4; i++) {
      Pool own = PgBuilder.pool().with(new PoolOptions().setMaxSize(2))
          .connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
      pools.add(own);
      WebhookWorker w = new WebhookWorker(vertx, own, store, (conn, e) -> conn.preparedQuery("INSERT INTO webhook_test_effects VALUES ($1)")
          .execute(Tuple.of(e.id())).map(v -> {
            applied.computeIfAbsent(e.id(), k -> new AtomicInteger()).incrementAndGet();
            return EventHandler.Handled.of("ok", null);
          }), Clock.systemUTC(), 5, Duration.ofMillis(1), registry);
      runs.add(w.drain());
    }
    await(Future.all(runs));
    int took = runs.stream().mapToInt(f -> f.result()).sum();
    for (Pool p : pools) {
      p.close().await(10, TimeUnit.SECONDS);
    }
    assertThat(took).isEqualTo(300);
    assertThat(applied).hasSize(300);
    assertThat(applied.values()).allMatch(n -> n.get() == 1);
    assertThat(runs).as("the work was shared").filteredOn(f -> f.result() > 0).hasSizeGreaterThan(1);
    assertThat(await(pool.query("SELECT count(*) FROM stripe_events WHERE status = 'processed'").execute()).iterator().next().getLong(0))
        .isEqualTo(300);
  }
}
