package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.store.PostgresUrls;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Only the SHA-256 of an API key is stored")
class KeyStorageTest {

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;

  @Test
  @DisplayName("after a key is created through the admin API, its row holds SHA-256(key) and no column or audit entry holds the key or any 6 characters of its secret part")
  void onlyTheHashIsStored() throws Exception {
    String yaml = """
        routes:
          - prefix: /v1/
            upstream: %s/v1/
        """.formatted(harness.stubBase());
    try (Tollgate gateway = GatewayHarness.start(yaml, Map.of())) {
      long account = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "hashes").put("initialCredits", 10));
      JsonObject created = GatewayHarness.createKey(gateway, vertx, account, new JsonObject().put("name", "stored"));
      String key = created.getString("key");
      long id = created.getLong("id");
      // Used once, so that anything written on use (last-used times, caches) has had its chance.
      assertThat(await(new HttpTestClient(vertx, false, key).get(gateway.proxyPort(), "/v1/models")).status()).isEqualTo(200);

      // The documented format: tg_live_ | 43 random base62 characters (the secret) | 6-character checksum.
      String secret = key.substring(8, 8 + 43);
      byte[] expectedHash = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));

      Pool pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(gateway.postgresUrl())).using(vertx).build();
      try {
        Row row = await(pg.preparedQuery("SELECT key_hash, row_to_json(k)::text AS whole FROM api_keys k WHERE id = $1")
            .execute(Tuple.of(id))).iterator().next();
        assertThat(row.getBuffer("key_hash").getBytes()).isEqualTo(expectedHash);

        List<String> stored = new ArrayList<>();
        stored.add(row.getString("whole"));
        RowSet<Row> audit = await(pg.query("SELECT row_to_json(a)::text AS whole FROM audit_log a").execute());
        audit.forEach(r -> stored.add(r.getString("whole")));
        // At least the account and the key creation were audited.
        assertThat(stored).hasSizeGreaterThanOrEqualTo(3);

        for (String text : stored) {
          assertThat(text).doesNotContain(key);
          for (int i = 0; i + 6 <= secret.length(); i++) {
            assertThat(text).as("stored text must not contain a piece of the key's secret").doesNotContain(secret.substring(i, i + 6));
          }
        }
      } finally {
        await(pg.close());
      }
    }
  }
}
