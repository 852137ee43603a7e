package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import io.tollgate.metering.keys.ApiKeyFormat;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

@DisplayName("API keys and secrets never appear in the logs")
class SecretsNotLoggedTest {

  private static final String STRIPE_API_KEY = "sk_test_neverLogged0123456789abcdefXYZ";
  private static final String WEBHOOK_SECRET = "whsec_neverLogged0123456789abcdefXYZ";
  private static final String WRONG_ADMIN_TOKEN = "wrong-admin-token-neverLogged-0123456789";

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  @Test
  @DisplayName("keys (valid, unknown, mistyped, revoked), the admin token, a wrong admin token, STRIPE_API_KEY (used against an unreachable Stripe) and the webhook secret are in no log event, at DEBUG")
  void noSecretInTheLogs() {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    Logger tollgate = context.getLogger("io.tollgate");
    Logger access = context.getLogger("tollgate");
    Level tollgateLevel = tollgate.getLevel();
    Level accessLevel = access.getLevel();
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.setContext(context);
    captured.start();
    root.addAppender(captured);
    // At DEBUG, so that a secret in a debug line counts too.
    tollgate.setLevel(Level.DEBUG);
    access.setLevel(Level.DEBUG);
    List<String> secrets = new ArrayList<>(List.of(STRIPE_API_KEY, WEBHOOK_SECRET, GatewayHarness.ADMIN_TOKEN, WRONG_ADMIN_TOKEN));
    int deadStripe = io.tollgate.embedded.FreePorts.pick();
    try (Tollgate gateway = GatewayHarness.start("""
        routes:
          - prefix: /v1/
            upstream: %s/v1/
            flatCost: 5
        metering: { flushIntervalMs: 50 }
        stripe: { syncIntervalMs: 100, apiBase: "http://127.0.0.1:%d", meterEventsBase: "http://127.0.0.1:%d" }
        """.formatted(harness.stubBase(), deadStripe, deadStripe),
        Map.of("STRIPE_API_KEY", STRIPE_API_KEY, "STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET))) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "logs").put("initialCredits", 100));
      JsonObject valid = GatewayHarness.createKey(gateway, vertx, account, new JsonObject());
      JsonObject revoked = GatewayHarness.createKey(gateway, vertx, account, new JsonObject());
      String unknown = ApiKeyFormat.generate(ApiKeyFormat.LIVE);
      String mistyped = unknown.substring(0, unknown.length() - 1) + (unknown.endsWith("x") ? "y" : "x");
      secrets.addAll(List.of(valid.getString("key"), revoked.getString("key"), unknown, mistyped));

      assertThat(await(new HttpTestClient(vertx, false, valid.getString("key")).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);
      assertThat(await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.proxyPort(), "/v1/models",
          MultiMap.caseInsensitiveMultiMap().add("x-api-key", valid.getString("key")), null)).status()).isEqualTo(200);
      assertThat(await(new HttpTestClient(vertx, false, unknown).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(401);
      assertThat(await(new HttpTestClient(vertx, false, mistyped).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(401);
      assertThat(await(new HttpTestClient(vertx).send(HttpMethod.POST, gateway.adminPort(), "/admin/v1/keys/" + revoked.getLong("id") + "/revoke",
          GatewayHarness.adminHeaders(), Buffer.buffer("{}"))).status()).isEqualTo(200);
      assertThat(await(new HttpTestClient(vertx, false, revoked.getString("key")).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(401);
      assertThat(await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.adminPort(), "/admin/v1/accounts/" + account,
          MultiMap.caseInsensitiveMultiMap().add("authorization", "Bearer " + WRONG_ADMIN_TOKEN), null)).status()).isEqualTo(401);

      String body = new JsonObject().put("id", "evt_logs").put("type", "customer.created").put("created", Instant.now().getEpochSecond()).encode();
      HttpTestClient.Reply badSignature = new Webhooks(vertx, gateway, WEBHOOK_SECRET)
          .post(body, Webhooks.sign(body, "whsec_someoneElse_0123456789", Instant.now().getEpochSecond()));
      assertThat(badSignature.status()).isEqualTo(400);

      // A postpaid account linked to a Stripe customer: its usage is sent with STRIPE_API_KEY to a
      // Stripe that cannot be reached, so the failure paths of the meter sync log too.
      long postpaid = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "logs postpaid")
          .put("billingMode", "postpaid").put("spendCap", 1_000_000));
      Pool pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(TestServices.get().postgresUrl())).using(vertx).build();
      try {
        await(pg.preparedQuery("UPDATE accounts SET stripe_customer_id = $2 WHERE id = $1").execute(Tuple.of(postpaid, "cus_logs" + System.nanoTime())));
        String postpaidKey = GatewayHarness.createKey(gateway, vertx, postpaid, new JsonObject()).getString("key");
        secrets.add(postpaidKey);
        assertThat(await(new HttpTestClient(vertx, false, postpaidKey).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (attempts(pg, postpaid) == 0 && System.nanoTime() < deadline) {
          await(vertx.timer(100));
        }
        assertThat(attempts(pg, postpaid)).as("attempts to send the usage to Stripe").isPositive();
      } finally {
        await(pg.close());
      }
    } finally {
      root.detachAppender(captured);
      tollgate.setLevel(tollgateLevel);
      access.setLevel(accessLevel);
    }

    List<String> lines = captured.list.stream().map(SecretsNotLoggedTest::render).toList();
    // The capture saw the exchanges above: the startup and the refused webhook.
    assertThat(lines).anySatisfy(line -> assertThat(line).contains("Stripe webhook refused (BAD_SIGNATURE)"));
    assertThat(lines).anySatisfy(line -> assertThat(line).contains("Tollgate listening"));
    for (String secret : secrets) {
      String secretPart = secret.startsWith("tg_") ? secret.substring(8, 8 + 20) : secret;
      assertThat(lines).allSatisfy(line -> assertThat(line).doesNotContain(secretPart));
    }
  }

  private static long attempts(Pool pg, long account) {
    return await(pg.preparedQuery("SELECT count(*) FROM stripe_meter_outbox WHERE account_id = $1 AND (attempts > 0 OR last_error IS NOT NULL)")
        .execute(Tuple.of(account))).iterator().next().getLong(0);
  }

  /** Everything an encoder could print: logger, message, key-value pairs, MDC and the stack trace. */
  private static String render(ILoggingEvent event) {
    StringBuilder text = new StringBuilder(event.getLoggerName()).append(' ').append(event.getFormattedMessage());
    if (event.getKeyValuePairs() != null) {
      event.getKeyValuePairs().forEach(pair -> text.append(' ').append(pair.key).append('=').append(pair.value));
    }
    text.append(' ').append(event.getMDCPropertyMap());
    if (event.getThrowableProxy() != null) {
      text.append(' ').append(ThrowableProxyUtil.asString(event.getThrowableProxy()));
    }
    return text.toString();
  }
}
