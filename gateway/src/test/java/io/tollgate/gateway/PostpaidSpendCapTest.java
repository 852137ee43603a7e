package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.periods.PeriodRollover;
import io.tollgate.metering.testing.MutableClock;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * README: a postpaid account's {@code spendCap} bounds its usage per billing period (402
 * {@code insufficient_credits} beyond it), and a postpaid account starts a new period with the
 * whole cap.
 */
@DisplayName("A postpaid spend cap holds under concurrency and is renewed at the period rollover")
class PostpaidSpendCapTest {

  private static final int CONCURRENT = 200;
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  @Test
  @DisplayName("a cap of 700 at 100 a request: of 200 concurrent requests exactly 7 pass; after the rollover exactly 7 more do")
  void capUnderConcurrencyAndRollover() {
    String yaml = """
        routes:
          - prefix: /flat/
            upstream: %s/v1/
            flatCost: 100
        pricing:
          default: { input: 0, output: 0 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0 }
        """.formatted(harness.stubBase());
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    try (Tollgate gateway = Tollgate.start(GatewayHarness.config(yaml, Map.of()), clock)) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "capped postpaid")
          .put("billingMode", "postpaid").put("spendCap", 700));
      String key = GatewayHarness.createKey(gateway, vertx, account, new JsonObject()).getString("key");
      HttpClient client = HttpTestClient.keep(vertx.createHttpClient(new HttpClientOptions().setKeepAlive(true),
          new PoolOptions().setHttp1MaxSize(CONCURRENT).setMaxWaitQueueSize(-1)));

      int before = harness.stub.requestCount();
      assertThat(burst(client, gateway, key)).containsEntry(200, 7L).containsEntry(402, (long) CONCURRENT - 7).hasSize(2);
      assertThat(harness.stub.requestCount() - before).isEqualTo(7);

      // The gateway's clock moves past the end of the account's period and the rollover's grace:
      // the job closes the period (with the usage above in it) and starts the next.
      Pool pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
      try {
        Instant periodEnd = await(pg.preparedQuery("SELECT period_end FROM accounts WHERE id = $1").execute(Tuple.of(account)))
            .iterator().next().getOffsetDateTime(0).toInstant();
        clock.advanceMillis(Duration.between(clock.instant(), periodEnd).plus(PeriodRollover.GRACE).plusSeconds(1).toMillis());
      } finally {
        await(pg.close());
      }
      assertThat(await(gateway.services().jobs().rollOverPeriods())).anyMatch(rolled -> rolled.after().id() == account);

      before = harness.stub.requestCount();
      assertThat(burst(client, gateway, key)).containsEntry(200, 7L).containsEntry(402, (long) CONCURRENT - 7).hasSize(2);
      assertThat(harness.stub.requestCount() - before).isEqualTo(7);
    }
  }

  /** Fires {@link #CONCURRENT} requests at once from a Vert.x context; counts the answers by status. */
  private static Map<Integer, Long> burst(HttpClient client, Tollgate gateway, String key) {
    List<Future<Integer>> all = new ArrayList<>();
    io.vertx.core.Promise<Void> fired = io.vertx.core.Promise.promise();
    vertx.runOnContext(v -> {
      for (int i = 0; i < CONCURRENT; i++) {
        all.add(client.request(new RequestOptions().setHost("127.0.0.1").setPort(gateway.proxyPort()).setURI("/flat/models")
                .putHeader("authorization", "Bearer " + key))
            .compose(req -> req.send().compose(resp -> resp.body().map(b -> resp.statusCode()))));
      }
      fired.complete();
    });
    await(fired.future());
    await(Future.join(new ArrayList<>(all)));
    Map<Integer, Long> byStatus = new HashMap<>();
    all.forEach(f -> byStatus.merge(f.result(), 1L, Long::sum));
    return byStatus;
  }
}
