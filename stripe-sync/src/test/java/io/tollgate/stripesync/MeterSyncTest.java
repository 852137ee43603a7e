package io.tollgate.stripesync;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tollgate.config.Secret;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.tollgate.stripesync.fake.FakeStripe;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@DisplayName("Usage reaches Stripe exactly once: outbox, retries, breaker, dead letters")
class MeterSyncTest {

  private static final String API_KEY = "sk_test_fake_0123456789";
  private static Vertx vertx;
  private static Pool pool;
  private static FakeStripe stripe;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    pool = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
    stripe = await(new FakeStripe(vertx, API_KEY).start());
  }

  @AfterAll
  static void stop() throws Exception {
    await(stripe.close());
    pool.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static <T> T await(Future<T> f) {
    try {
      return f.await(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static StripeMeterTransport transport(StripeMeterTransport.Mode mode) {
    return new StripeMeterTransport(mode, Secret.of(API_KEY), URI.create(stripe.baseUrl()), URI.create(stripe.baseUrl()),
        Duration.ofMillis(400), Clock.systemUTC());
  }

  private static MeterSync sync(MeterEventTransport transport, MeterSync.Settings settings) {
    return new MeterSync(vertx, new MeterOutbox(pool), transport, "tollgate_credits", Clock.systemUTC(), settings, new SimpleMeterRegistry());
  }

  private static MeterSync.Settings fast() {
    return new MeterSync.Settings(6, Duration.ofMillis(5), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofSeconds(3),
        Duration.ofHours(23), 1_000);
  }

  /** A postpaid account linked to a fresh Stripe customer; returns customer → account. */
  private static Map<String, Long> customers(int n, String billingMode) {
    Map<String, Long> out = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      String customer = "cus_" + UUID.randomUUID().toString().replace("-", "").substring(0, 14);
      long id = await(pool.preparedQuery("INSERT INTO accounts (name, billing_mode, stripe_customer_id) VALUES ($1, $2, $3) RETURNING id")
          .execute(Tuple.of("stripe " + i, billingMode, customer))).iterator().next().getLong(0);
      out.put(customer, id);
    }
    return out;
  }

  private static void usage(long account, int events) {
    await(pool.preparedQuery("""
        INSERT INTO usage_events (event_id, account_id, key_id, route, model, credits, status, occurred_at)
        SELECT gen_random_uuid(), $1, 1, '/v1/', 'm', (1 + (random() * 99)::int) * 1000, 200, now() - interval '1 minute'
        FROM generate_series(1, $2)
        """).execute(Tuple.of(account, events)));
  }

  private static long postgresTotal(long account) {
    // Whole credits in units (usage() writes multiples of 1000): what Stripe must receive, in credits.
    return await(pool.preparedQuery("SELECT coalesce(sum(credits), 0) / 1000 FROM usage_events WHERE account_id = $1")
        .execute(Tuple.of(account))).iterator().next().getLong(0);
  }

  /** Hybrid usage whose credits paid part of each event: {@code overage_credits} is the rest, about a third. */
  private static void hybridUsage(long account, int events) {
    await(pool.preparedQuery("""
        INSERT INTO usage_events (event_id, account_id, key_id, route, model, credits, overage_credits, status, occurred_at)
        SELECT gen_random_uuid(), $1, 1, '/v1/', 'm', c * 1000, (c / 3) * 1000, 200, now() - interval '1 minute'
        FROM (SELECT 3 + (random() * 99)::int AS c FROM generate_series(1, $2)) g
        """).execute(Tuple.of(account, events)));
  }

  private static long postgresOverage(long account) {
    return await(pool.preparedQuery("SELECT coalesce(sum(overage_credits), 0) / 1000 FROM usage_events WHERE account_id = $1")
        .execute(Tuple.of(account))).iterator().next().getLong(0);
  }

  private static long pending() {
    return await(pool.query("SELECT count(*) FROM stripe_meter_outbox WHERE status = 'pending'").execute()).iterator().next().getLong(0);
  }

  /** Runs passes until nothing is pending (waiting out an open breaker), bounded. */
  private static void drain(MeterSync sync) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    do {
      await(sync.runOnce());
      if (pending() > 0) {
        await(vertx.timer(120));
        await(pool.query("UPDATE stripe_meter_outbox SET next_attempt_at = now() WHERE status = 'pending' AND next_attempt_at > now() "
            + "AND last_error LIKE 'circuit breaker%'").execute());
      }
    } while (pending() > 0 && System.nanoTime() < deadline);
    assertThat(pending()).as("outbox items still pending").isZero();
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(StripeMeterTransport.Mode.class)
  @DisplayName("thousands of events under random 429s, 500s, timeouts, drops and lost answers: Stripe's sums equal Postgres', each identifier once")
  void exactUnderFaults(StripeMeterTransport.Mode mode) {
    Map<String, Long> linked = customers(15, "postpaid");
    stripe.slowMillis(1_000).randomFaults(0.3, mode.ordinal() + 42L);
    MeterSync sync = sync(transport(mode), fast());
    try {
      for (int wave = 0; wave < 5; wave++) {
        for (long account : linked.values()) {
          usage(account, 40);
        }
        drain(sync);
      }
    } finally {
      stripe.randomFaults(0, 1);
    }
    assertThat(stripe.faultsInjected()).isGreaterThan(10);
    for (Map.Entry<String, Long> e : linked.entrySet()) {
      assertThat(stripe.totalFor(e.getKey())).as("credits for " + e.getKey()).isEqualTo(postgresTotal(e.getValue()));
    }
    long sentRows = await(pool.preparedQuery("SELECT count(*) FROM stripe_meter_outbox WHERE stripe_customer_id = ANY($1) AND status = 'sent'")
        .execute(Tuple.of(linked.keySet().toArray(new String[0])))).iterator().next().getLong(0);
    long acceptedForThese = stripe.accepted().values().stream().filter(a -> linked.containsKey(a.customer())).count();
    assertThat(acceptedForThese).as("one accepted event per sent outbox row").isEqualTo(sentRows).isEqualTo(15L * 5);
    long unclaimed = await(pool.preparedQuery("SELECT count(*) FROM usage_events WHERE account_id = ANY($1) AND stripe_batch IS NULL")
        .execute(Tuple.of(linked.values().toArray(new Long[0])))).iterator().next().getLong(0);
    assertThat(unclaimed).isZero();
  }

  /** {@code events} usage rows of exactly {@code units} each (1000 units = 1 credit). */
  private static void usageOfUnits(long account, int events, long units) {
    await(pool.preparedQuery("""
        INSERT INTO usage_events (event_id, account_id, key_id, route, model, credits, status, occurred_at)
        SELECT gen_random_uuid(), $1, 1, '/v1/', 'm', $3, 200, now() - interval '1 minute'
        FROM generate_series(1, $2)
        """).execute(Tuple.of(account, events, units)));
  }

  @Test
  @DisplayName("fractional credits reach Stripe as whole numbers: floor of the exact total, the remainder carried to the next batch")
  void fractionsCarried() {
    Map<String, Long> linked = customers(1, "postpaid");
    String customer = linked.keySet().iterator().next();
    long account = linked.get(customer);
    MeterSync sync = sync(transport(StripeMeterTransport.Mode.V2), fast());
    // 7 × 2.5 credits = 17.5: Stripe gets 17, 0.5 is carried.
    usageOfUnits(account, 7, 2_500);
    drain(sync);
    assertThat(stripe.totalFor(customer)).isEqualTo(17);
    // 0.4 more: 0.9 owed, still below a credit: no meter event at all, nothing lost.
    usageOfUnits(account, 2, 200);
    int rowsBefore = outboxRows(customer);
    drain(sync);
    assertThat(outboxRows(customer)).as("no outbox row for less than a credit").isEqualTo(rowsBefore);
    assertThat(stripe.totalFor(customer)).isEqualTo(17);
    // 0.2 more: 18.1 in all, so Stripe has 18, and 0.1 waits.
    usageOfUnits(account, 1, 200);
    drain(sync);
    assertThat(stripe.totalFor(customer)).isEqualTo(18);
    // 1,000 events of 0.001: exactly one more credit, however the cuts split them.
    for (int i = 0; i < 10; i++) {
      usageOfUnits(account, 100, 1);
      drain(sync);
    }
    assertThat(stripe.totalFor(customer)).isEqualTo(19);
    Row carry = await(pool.preparedQuery("SELECT units FROM stripe_meter_carry WHERE account_id = $1").execute(Tuple.of(account)))
        .iterator().next();
    assertThat(carry.getLong("units")).as("the 0.1 credit still carried").isEqualTo(100);
    long sentValue = await(pool.preparedQuery("SELECT sum(value) FROM stripe_meter_outbox WHERE account_id = $1")
        .execute(Tuple.of(account))).iterator().next().getLong(0);
    long usage = await(pool.preparedQuery("SELECT sum(credits) FROM usage_events WHERE account_id = $1")
        .execute(Tuple.of(account))).iterator().next().getLong(0);
    assertThat(usage).isEqualTo(19_100);
    assertThat(sentValue * 1_000 + carry.getLong("units")).as("what was sent plus what is carried = the exact usage").isEqualTo(usage);
  }

  private static int outboxRows(String customer) {
    return await(pool.preparedQuery("SELECT count(*) FROM stripe_meter_outbox WHERE stripe_customer_id = $1").execute(Tuple.of(customer)))
        .iterator().next().getInteger(0);
  }

  @Test
  @DisplayName("v1 sends one event per call, one call at a time: never two calls for one customer at once, though each is slow")
  void v1OneCallPerCustomerAtATime() {
    Map<String, Long> linked = customers(3, "postpaid");
    MeterOutbox outbox = new MeterOutbox(pool);
    // Five cuts: five outbox rows (five v1 calls) per customer, all due at once.
    for (int cut = 0; cut < 5; cut++) {
      linked.values().forEach(a -> usage(a, 2));
      await(outbox.cut("tollgate_credits", java.time.Instant.now()));
    }
    int before = stripe.requests();
    // Each of the 15 calls answers after 30 ms, so calls that overlapped would be seen overlapping.
    FakeStripe.Fault[] slow = new FakeStripe.Fault[15];
    java.util.Arrays.fill(slow, FakeStripe.Fault.SLOW);
    stripe.slowMillis(30).enqueue(slow);
    drain(sync(transport(StripeMeterTransport.Mode.V1), fast()));
    assertThat(stripe.requests() - before).as("every row sent, one call each").isEqualTo(15);
    for (Map.Entry<String, Long> e : linked.entrySet()) {
      assertThat(stripe.maxConcurrentV1(e.getKey())).as("calls for " + e.getKey() + " at once").isEqualTo(1);
      assertThat(stripe.totalFor(e.getKey())).isEqualTo(postgresTotal(e.getValue()));
    }
  }

  @Test
  @DisplayName("an instance that dies after Stripe took a batch but before recording it: the next one resends the same identifiers, counted once")
  void restartMidBatch() {
    // Postpaid customers owe all their usage; hybrid ones only the overage their credits did not cover.
    Map<String, Long> postpaid = customers(3, "postpaid");
    Map<String, Long> hybrid = customers(3, "hybrid");
    postpaid.values().forEach(a -> usage(a, 10));
    hybrid.values().forEach(a -> hybridUsage(a, 10));
    Map<String, Long> linked = new LinkedHashMap<>(postpaid);
    linked.putAll(hybrid);
    MeterOutbox outbox = new MeterOutbox(pool);
    assertThat(await(outbox.cut("tollgate_credits", java.time.Instant.now()))).isGreaterThanOrEqualTo(6);
    // The doomed instance leases everything for a moment, sends it, and dies before marking it sent.
    List<MeterOutbox.Item> leased = await(outbox.lease(10_000, Duration.ofMillis(300)));
    List<MeterEvent> events = new ArrayList<>();
    leased.stream().filter(i -> linked.containsKey(i.event().customerId())).forEach(i -> events.add(i.event()));
    assertThat(events).hasSize(6);
    try {
      transport(StripeMeterTransport.Mode.V2).send(events);
    } catch (SendFailure f) {
      throw new AssertionError(f);
    }
    int duplicatesBefore = stripe.duplicates();
    await(vertx.timer(400));
    drain(sync(transport(StripeMeterTransport.Mode.V2), fast()));
    assertThat(stripe.duplicates() - duplicatesBefore).as("identifiers Stripe saw twice and dropped").isGreaterThanOrEqualTo(6);
    for (Map.Entry<String, Long> e : postpaid.entrySet()) {
      assertThat(stripe.totalFor(e.getKey())).isEqualTo(postgresTotal(e.getValue()));
    }
    for (Map.Entry<String, Long> e : hybrid.entrySet()) {
      assertThat(postgresOverage(e.getValue())).as("some overage, less than all usage").isPositive()
          .isLessThan(postgresTotal(e.getValue()));
      assertThat(stripe.totalFor(e.getKey())).as("hybrid: only the overage").isEqualTo(postgresOverage(e.getValue()));
    }
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(StripeMeterTransport.Mode.class)
  @DisplayName("a permanent error dead-letters only its item; the rest go through; an admin retry after the fix sends it")
  void permanentErrorDeadLettersOne(StripeMeterTransport.Mode mode) {
    Map<String, Long> linked = customers(7, "postpaid");
    String bad = linked.keySet().iterator().next();
    stripe.unknownCustomer(bad);
    linked.values().forEach(a -> usage(a, 5));
    MeterSync sync = sync(transport(mode), fast());
    drain(sync);
    Row dead = await(pool.preparedQuery("SELECT id, last_error FROM stripe_meter_outbox WHERE stripe_customer_id = $1 AND status = 'dead'")
        .execute(Tuple.of(bad))).iterator().next();
    assertThat(dead.getString("last_error")).contains("No such customer").doesNotContain(API_KEY);
    assertThat(stripe.totalFor(bad)).isZero();
    linked.forEach((customer, account) -> {
      if (!customer.equals(bad)) {
        assertThat(stripe.totalFor(customer)).isEqualTo(postgresTotal(account));
      }
    });
    assertThat(await(sync.refreshStats()).dead()).isGreaterThanOrEqualTo(1);

    stripe.customerExists(bad);
    assertThat(await(new MeterOutbox(pool).retryDead(List.of(dead.getLong("id"))))).containsExactly(dead.getLong("id"));
    drain(sync);
    assertThat(stripe.totalFor(bad)).isEqualTo(postgresTotal(linked.get(bad)));
  }

  @Test
  @DisplayName("the breaker opens while Stripe fails, stops calling it, and closes again after a successful probe")
  void breakerOpensAndRecovers() {
    Map<String, Long> linked = customers(8, "postpaid");
    linked.values().forEach(a -> usage(a, 3));
    MeterSync sync = sync(transport(StripeMeterTransport.Mode.V1),
        new MeterSync.Settings(2, Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(500), Duration.ofSeconds(3),
            Duration.ofHours(23), 1_000));
    stripe.down(true);
    try {
      // Each pass makes two failed calls on the first item and defers the rest; the breaker judges after four.
      for (int pass = 0; pass < 5 && sync.breakerState() != CircuitBreaker.State.OPEN; pass++) {
        await(sync.runOnce());
        await(pool.query("UPDATE stripe_meter_outbox SET next_attempt_at = now() WHERE status = 'pending'").execute());
      }
      assertThat(sync.breakerState()).isEqualTo(CircuitBreaker.State.OPEN);
      int callsWhileOpen = stripe.requests();
      await(pool.query("UPDATE stripe_meter_outbox SET next_attempt_at = now() WHERE status = 'pending'").execute());
      await(sync.runOnce());
      assertThat(stripe.requests()).as("no calls while open").isEqualTo(callsWhileOpen);
      assertThat(pending()).isGreaterThanOrEqualTo(8);
    } finally {
      stripe.down(false);
    }
    await(vertx.timer(600));
    await(pool.query("UPDATE stripe_meter_outbox SET next_attempt_at = now() WHERE status = 'pending'").execute());
    drain(sync);
    assertThat(sync.breakerState()).isEqualTo(CircuitBreaker.State.CLOSED);
    linked.forEach((customer, account) -> assertThat(stripe.totalFor(customer)).isEqualTo(postgresTotal(account)));
  }

  @Test
  @DisplayName("an expired v2 session is replaced and the events go through")
  void sessionRefresh() {
    Map<String, Long> linked = customers(2, "postpaid");
    MeterSync sync = sync(transport(StripeMeterTransport.Mode.V2), fast());
    linked.values().forEach(a -> usage(a, 2));
    drain(sync);
    int sessions = stripe.sessionsCreated();
    stripe.expireSessions();
    linked.values().forEach(a -> usage(a, 2));
    drain(sync);
    assertThat(stripe.sessionsCreated()).isEqualTo(sessions + 1);
    linked.forEach((customer, account) -> assertThat(stripe.totalFor(customer)).isEqualTo(postgresTotal(account)));
  }

  @Test
  @DisplayName("items Stripe would refuse (older than 35 days) or might double count (attempted, unsent past the dedup window) are dead-lettered unsent")
  void windows() {
    String old = "cus_old_" + ThreadLocalRandom.current().nextInt(1_000_000);
    String stale = "cus_stale_" + ThreadLocalRandom.current().nextInt(1_000_000);
    await(pool.preparedQuery("""
        INSERT INTO stripe_meter_outbox (batch_id, stripe_customer_id, event_name, value, window_start, window_end, event_timestamp,
                                         identifier, attempts, created_at)
        VALUES (gen_random_uuid(), $1, 'tollgate_credits', 5, now(), now(), now() - interval '40 days', $3, 0, now()),
               (gen_random_uuid(), $2, 'tollgate_credits', 5, now(), now(), now() - interval '25 hours', $4, 1, now() - interval '25 hours')
        """).execute(Tuple.of(old, stale, "tg_old_" + old, "tg_stale_" + stale)));
    int requests = stripe.requests();
    await(sync(transport(StripeMeterTransport.Mode.V2), fast()).runOnce());
    assertThat(stripe.requests()).isEqualTo(requests);
    Map<String, String> errors = new LinkedHashMap<>();
    for (Row r : await(pool.preparedQuery("SELECT stripe_customer_id, status, last_error FROM stripe_meter_outbox WHERE stripe_customer_id = ANY($1)")
        .execute(Tuple.of(new String[] {old, stale})))) {
      assertThat(r.getString("status")).isEqualTo("dead");
      errors.put(r.getString("stripe_customer_id"), r.getString("last_error"));
    }
    assertThat(errors.get(old)).contains("more than 35 days old");
    assertThat(errors.get(stale)).contains("check Stripe before retrying");
  }

  @Test
  @DisplayName("reconciliation finds nothing when Stripe matches, and reports drift and missing days when it does not")
  void reconciliation() {
    Map<String, Long> linked = customers(3, "postpaid");
    linked.values().forEach(a -> usage(a, 4));
    drain(sync(transport(StripeMeterTransport.Mode.V2), fast()));
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Reconciler reconciler = new Reconciler(vertx, pool, transport(StripeMeterTransport.Mode.V2), "tollgate_credits", "mtr_test", 5, registry);
    java.time.Instant now = java.time.Instant.now();
    io.vertx.core.json.JsonObject clean = await(reconciler.run(now.minus(Duration.ofDays(1)), now.plus(Duration.ofDays(1))));
    List<String> customers = new ArrayList<>(linked.keySet());
    assertThat(clean.getJsonArray("missing").stream().map(o -> ((io.vertx.core.json.JsonObject) o).getString("customer")))
        .doesNotContainAnyElementsOf(customers);
    assertThat(clean.getJsonArray("drift").stream().map(o -> ((io.vertx.core.json.JsonObject) o).getString("customer")))
        .doesNotContainAnyElementsOf(customers);

    String drifted = customers.get(0);
    String lost = customers.get(1);
    long sent = postgresTotal(linked.get(drifted));
    stripe.inject(new FakeStripe.Accepted("extra_" + UUID.randomUUID(), "tollgate_credits", drifted, sent / 10 + 1, now));
    stripe.forget(lost);
    io.vertx.core.json.JsonObject report = await(reconciler.run(now.minus(Duration.ofDays(1)), now.plus(Duration.ofDays(1))));
    io.vertx.core.json.JsonObject drift = report.getJsonArray("drift").stream().map(io.vertx.core.json.JsonObject.class::cast)
        .filter(o -> o.getString("customer").equals(drifted)).findFirst().orElseThrow();
    assertThat(drift.getLong("postgres")).isEqualTo(sent);
    assertThat(drift.getLong("stripe")).isEqualTo(sent + sent / 10 + 1);
    assertThat(drift.getDouble("driftPercent")).isGreaterThan(9.0);
    assertThat(report.getJsonArray("missing").stream().map(o -> ((io.vertx.core.json.JsonObject) o).getString("customer"))).contains(lost);
    assertThat(report.getDouble("maxDriftPercent")).isEqualTo(100.0);
    assertThat(registry.get("tollgate_stripe_reconciliation_drift_percent").gauge().value()).isEqualTo(100.0);
    assertThat(report.getBoolean("alert")).isTrue();
    assertThat(registry.get("tollgate_stripe_reconciliation_alert").gauge().value()).isEqualTo(1.0);
    assertThat(await(pool.preparedQuery("SELECT count(*) FROM stripe_reconciliations WHERE id = $1").execute(Tuple.of(report.getLong("id"))))
        .iterator().next().getLong(0)).isEqualTo(1);
  }
}
