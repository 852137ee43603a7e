package io.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.schema.SchemaMigrator;
import io.tollgate.metering.store.PostgresUrls;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisAPI;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Embedded Redis and Postgres, and the schema")
class EmbeddedServicesTest {

  private static Vertx vertx;
  private static Pool pg;
  private static RedisAPI redis;

  @BeforeAll
  static void connect() throws Exception {
    vertx = Vertx.vertx();
    TestServices services = TestServices.get();
    pg = PgBuilder.pool().connectingTo(PostgresUrls.toConnectOptions(services.postgresUrl())).using(vertx).build();
    redis = RedisAPI.api(Redis.createClient(vertx, services.redisUrl()));
  }

  @AfterAll
  static void close() throws Exception {
    redis.close();
    pg.close().await(10, TimeUnit.SECONDS);
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  @DisplayName("embedded Redis is 6.2+ with streams, consumer groups and XAUTOCLAIM")
  void redisStreams() throws Exception {
    String stream = "test:stream:" + UUID.randomUUID();
    redis.xadd(List.of(stream, "*", "k", "v")).await(10, TimeUnit.SECONDS);
    redis.xgroup(List.of("CREATE", stream, "g", "0")).await(10, TimeUnit.SECONDS);
    redis.xreadgroup(List.of("GROUP", "g", "c1", "COUNT", "10", "STREAMS", stream, ">")).await(10, TimeUnit.SECONDS);
    var claimed = redis.xautoclaim(List.of(stream, "g", "c2", "0", "0-0")).await(10, TimeUnit.SECONDS);
    assertThat(claimed.get(1).size()).isEqualTo(1);
  }

  @Test
  @DisplayName("migrations create every table DESIGN.md names, and re-running them applies nothing")
  void schema() throws Exception {
    List<String> tables = new ArrayList<>();
    for (Row row : pg.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").execute().await(10, TimeUnit.SECONDS)) {
      tables.add(row.getString(0));
    }
    assertThat(tables).contains("accounts", "api_keys", "usage_events", "usage_event_ids", "usage_rollups_hourly",
        "credit_transactions", "stripe_meter_outbox", "stripe_events", "notifications", "audit_log");
    assertThat(SchemaMigrator.migrate(TestServices.get().postgresUrl())).isZero();
  }

  @Test
  @DisplayName("usage_events is partitioned by month with this and next month's partitions ready")
  void partitions() throws Exception {
    List<String> parts = new ArrayList<>();
    for (Row row : pg.query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        + "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'usage_events'").execute().await(10, TimeUnit.SECONDS)) {
      parts.add(row.getString(0));
    }
    String thisMonth = pg.query("SELECT 'usage_events_' || to_char(now(), 'YYYY_MM')").execute().await(10, TimeUnit.SECONDS)
        .iterator().next().getString(0);
    String nextMonth = pg.query("SELECT 'usage_events_' || to_char(now() + interval '1 month', 'YYYY_MM')").execute()
        .await(10, TimeUnit.SECONDS).iterator().next().getString(0);
    assertThat(parts).contains(thisMonth, nextMonth, "usage_events_default");
    int created = pg.query("SELECT ensure_usage_partitions(1)").execute().await(10, TimeUnit.SECONDS).iterator().next().getInteger(0);
    assertThat(created).isZero();
  }

  @Test
  @DisplayName("a duplicate event id is dropped by the usage_event_ids guard, across partitions")
  void duplicateEventIgnored() throws Exception {
    UUID id = UUID.randomUUID();
    String insert = "WITH fresh AS (INSERT INTO usage_event_ids (event_id, occurred_at) VALUES ($1, $2) "
        + "ON CONFLICT (event_id) DO NOTHING RETURNING event_id, occurred_at) "
        + "INSERT INTO usage_events (event_id, account_id, route, status, occurred_at, credits) "
        + "SELECT event_id, 1, '/v1/', 200, occurred_at, 5 FROM fresh";
    var now = java.time.OffsetDateTime.now();
    int first = pg.preparedQuery(insert).execute(Tuple.of(id, now)).await(10, TimeUnit.SECONDS).rowCount();
    // Same event id, a timestamp in another month: a plain partitioned PK would let it in.
    int second = pg.preparedQuery(insert).execute(Tuple.of(id, now.minusMonths(3))).await(10, TimeUnit.SECONDS).rowCount();
    assertThat(first).isEqualTo(1);
    assertThat(second).isZero();
    long count = pg.preparedQuery("SELECT count(*) FROM usage_events WHERE event_id = $1").execute(Tuple.of(id))
        .await(10, TimeUnit.SECONDS).iterator().next().getLong(0);
    assertThat(count).isEqualTo(1);
  }

  @Test
  @DisplayName("Postgres URLs become JDBC URLs and credentials; passwords are masked in errors")
  void urls() throws Exception {
    assertThat(PostgresUrls.toJdbcUrl("postgresql://u:p%40ss@db.example:6543/tg?sslmode=require"))
        .isEqualTo("jdbc:postgresql://db.example:6543/tg?sslmode=require");
    var props = PostgresUrls.jdbcProperties("postgresql://u:p%40ss@db.example:6543/tg");
    assertThat(props.getProperty("user")).isEqualTo("u");
    assertThat(props.getProperty("password")).isEqualTo("p@ss");
    assertThat(PostgresUrls.toJdbcUrl("postgres://db.example/tg")).isEqualTo("jdbc:postgresql://db.example:5432/tg");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> PostgresUrls.toJdbcUrl("postgresql://u:hunter2@/x"))
        .hasMessageNotContaining("hunter2");
  }
}
