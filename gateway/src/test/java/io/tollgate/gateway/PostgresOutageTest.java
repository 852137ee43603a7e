package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.tollgate.metering.usage.UsageStreamConsumer;
import io.tollgate.stripesync.fake.StripeObjects;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Postgres down while the gateway serves: usage waits in the stream and arrives once")
class PostgresOutageTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  @Test
  @DisplayName("requests keep being served and metered on Redis; after the restart every event is in Postgres exactly once")
  void outageThenRecovery() throws Exception {
    try (Tollgate gateway = GatewayHarness.start("""
        routes:
          - prefix: /v1/
            upstream: %s/v1/
            usage: openai
        # claimIdleSeconds 1: entries another test's gateway read and never acknowledged (the streams
        # are shared in this JVM) are claimed within seconds, so the backlog checked below is this test's.
        metering: { flushIntervalMs: 100, flushBatchSize: 7, claimIdleSeconds: 1 }
        """.formatted(harness.stubBase()), Map.of("STRIPE_WEBHOOK_SECRET", "whsec_outage_0123"))) {
      Webhooks webhooks = new Webhooks(vertx, gateway, "whsec_outage_0123");
      JsonObject stripeEvent = StripeObjects.customer().createdEvent().created(java.time.Instant.now()).json();
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "outage").put("initialCredits", 1_000_000));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      HttpTestClient client = new HttpTestClient(vertx, false, key);
      // The key is now cached: the hot path needs only Redis.
      assertThat(await(client.get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);

      TestServices.get().stopPostgres();
      int served = 1;
      try {
        for (int i = 0; i < 40; i++) {
          assertThat(await(client.get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);
          served++;
        }
        // Flush passes fail meanwhile; nothing is acknowledged, so the events wait in the stream.
        UsageStreamConsumer.Backlog waiting = awaitBacklog(gateway, 40);
        assertThat(waiting.backlog()).isGreaterThanOrEqualTo(40);
        // The backlog alone can be reached before any flush pass ran into the outage (the streams
        // are shared in this JVM), so wait for the failed pass itself: one runs every 100 ms.
        assertThat(awaitFlushFailures(gateway)).isGreaterThan(0);
        // A Stripe webhook cannot be stored: 503, so that Stripe delivers it again later.
        String body = stripeEvent.encode();
        HttpTestClient.Reply refused = webhooks.post(body, Webhooks.sign(body, "whsec_outage_0123", java.time.Instant.now().getEpochSecond()));
        assertThat(refused.status()).isEqualTo(503);
        assertThat(refused.json().getString("detail")).contains("Stripe will deliver it again");
      } finally {
        TestServices.get().startPostgres();
      }

      Pool pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(gateway.postgresUrl())).using(vertx).build();
      try {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Row row;
        do {
          await(vertx.timer(100));
          row = await(pg.preparedQuery("SELECT count(*), count(DISTINCT event_id) FROM usage_events WHERE account_id = $1")
              .execute(Tuple.of(account))).iterator().next();
        } while (row.getLong(0) < served && System.nanoTime() < deadline);
        assertThat(row.getLong(0)).as("events in Postgres").isEqualTo(served);
        assertThat(row.getLong(1)).as("distinct event ids").isEqualTo(served);
        // And they stay that way: nothing left to deliver twice.
        await(gateway.services().jobs().flushUsage());
        assertThat(await(pg.preparedQuery("SELECT count(*) FROM usage_events WHERE account_id = $1").execute(Tuple.of(account)))
            .iterator().next().getLong(0)).isEqualTo(served);
        // A timer pass may have committed the last rows but not yet acknowledged them: the backlog empties right after.
        assertThat(awaitBacklogBelow(gateway, 1).backlog()).isZero();
        // Stripe's redelivery after the outage is stored and processed.
        assertThat(webhooks.deliverAndWait(stripeEvent).getString("status")).isEqualTo("processed");
      } finally {
        pg.close();
      }
    }
  }

  private static UsageStreamConsumer.Backlog awaitBacklogBelow(Tollgate gateway, long below) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    UsageStreamConsumer.Backlog b = await(gateway.services().jobs().measureBacklog());
    while (b.backlog() >= below && System.nanoTime() < deadline) {
      await(vertx.timer(50));
      b = await(gateway.services().jobs().measureBacklog());
    }
    return b;
  }

  private static double awaitFlushFailures(Tollgate gateway) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    double failures = gateway.registry().get("tollgate_usage_flush_failures").counter().count();
    while (failures == 0 && System.nanoTime() < deadline) {
      await(vertx.timer(50));
      failures = gateway.registry().get("tollgate_usage_flush_failures").counter().count();
    }
    return failures;
  }

  private static UsageStreamConsumer.Backlog awaitBacklog(Tollgate gateway, long atLeast) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    UsageStreamConsumer.Backlog b = await(gateway.services().jobs().measureBacklog());
    while (b.backlog() < atLeast && System.nanoTime() < deadline) {
      await(vertx.timer(50));
      b = await(gateway.services().jobs().measureBacklog());
    }
    return b;
  }

  @Test
  @DisplayName("a missing future usage_events partition is created when an instance starts")
  void partitionsCreatedAhead() throws Exception {
    String month = java.time.YearMonth.now(java.time.ZoneOffset.UTC).plusMonths(2).toString().replace('-', '_');
    String partition = "usage_events_" + month;
    Pool pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
    try {
      await(pg.query("DROP TABLE IF EXISTS " + partition).execute());
      assertThat(exists(pg, partition)).isFalse();
      try (Tollgate gateway = GatewayHarness.start("routes: []\n", Map.of())) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!exists(pg, partition) && System.nanoTime() < deadline) {
          await(vertx.timer(50));
        }
        assertThat(exists(pg, partition)).as(partition).isTrue();
        // A second call (another instance, or the 6-hourly timer) finds nothing to do.
        assertThat(await(gateway.services().jobs().ensurePartitions())).isZero();
      }
    } finally {
      pg.close();
    }
  }

  private static boolean exists(Pool pg, String table) {
    return await(pg.preparedQuery("SELECT to_regclass($1) IS NOT NULL").execute(Tuple.of(table))).iterator().next().getBoolean(0);
  }
}
