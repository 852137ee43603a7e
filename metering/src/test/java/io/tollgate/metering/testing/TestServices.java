package io.tollgate.metering.testing;

import io.tollgate.embedded.EmbeddedPostgres;
import io.tollgate.embedded.EmbeddedRedis;
import io.tollgate.embedded.EmbeddedRedisCluster;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisOptions;
import io.tollgate.metering.schema.SchemaMigrator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Embedded Redis and Postgres for tests: started once per test JVM on random ports, in a
 * throw-away directory, migrated once, stopped at JVM exit. Never the machine's own servers.
 */
public final class TestServices {

  private static TestServices instance;
  private static EmbeddedRedisCluster cluster;

  private final Path dir;
  private final EmbeddedRedis redis;
  private EmbeddedPostgres postgres;

  private TestServices(Path dir, EmbeddedRedis redis, EmbeddedPostgres postgres) {
    this.dir = dir;
    this.redis = redis;
    this.postgres = postgres;
  }

  public static synchronized TestServices get() {
    if (instance == null) {
      instance = start();
    }
    return instance;
  }

  private static TestServices start() {
    try {
      // Under target/; when run as root from a private directory, Postgres keeps its files
      // elsewhere (EmbeddedPostgres.home), and stop() removes them too.
      Path base = Path.of("target", "test-services").toAbsolutePath();
      Files.createDirectories(base);
      Path dir = Files.createTempDirectory(base, "run-");
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
      EmbeddedRedis redis = EmbeddedRedis.start(dir.resolve("redis"), 0);
      EmbeddedPostgres postgres = EmbeddedPostgres.start(dir.resolve("postgres"), 0, false);
      SchemaMigrator.migrate(postgres.url());
      TestServices services = new TestServices(dir, redis, postgres);
      Runtime.getRuntime().addShutdownHook(new Thread(services::stop, "test-services-stop"));
      return services;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A Redis Cluster (three masters, a replica each) started on first use, once per JVM, next to
   * the standalone Redis; stopped at JVM exit.
   */
  public static synchronized EmbeddedRedisCluster cluster() {
    if (cluster == null) {
      TestServices services = get();
      cluster = EmbeddedRedisCluster.start(services.dir.resolve("redis-cluster"), 3);
      Runtime.getRuntime().addShutdownHook(new Thread(cluster::close, "test-redis-cluster-stop"));
    }
    return cluster;
  }

  /** Cluster-mode client options on {@link #cluster()}'s seed nodes, as the gateway builds them. */
  public static RedisOptions clusterOptions(int poolSize) {
    String[] seeds = cluster().seeds().split(",");
    RedisOptions options = new RedisOptions().setType(RedisClientType.CLUSTER).setMaxPoolSize(poolSize)
        .setMaxPoolWaiting(10_000).setConnectionString(seeds[0]);
    for (int i = 1; i < seeds.length; i++) {
      options.addConnectionString(seeds[i]);
    }
    return options;
  }

  public String redisUrl() {
    return redis.url();
  }

  public String postgresUrl() {
    return postgres.url();
  }

  /**
   * A new, migrated database on the shared server, for a test that must see only its own
   * gateway's Postgres activity (the shared {@code tollgate} database holds every other test's
   * accounts, which a gateway's background jobs legitimately read and roll over).
   */
  public synchronized String freshDatabase(String name) {
    if (!name.matches("[a-z_][a-z0-9_]{0,62}")) {
      throw new IllegalArgumentException("not a plain database name: " + name);
    }
    java.util.Properties props = new java.util.Properties();
    props.setProperty("user", "postgres");
    try (java.sql.Connection c = java.sql.DriverManager.getConnection(
        "jdbc:postgresql://127.0.0.1:" + postgres.port() + "/postgres", props);
         java.sql.Statement s = c.createStatement()) {
      s.execute("DROP DATABASE IF EXISTS " + name);
      s.execute("CREATE DATABASE " + name);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException("could not create test database " + name + ": " + e.getMessage(), e);
    }
    String url = "postgresql://postgres@127.0.0.1:" + postgres.port() + "/" + name;
    SchemaMigrator.migrate(url);
    return url;
  }

  public int redisPort() {
    return redis.port();
  }

  public int postgresPort() {
    return postgres.port();
  }

  /** Stops PostgreSQL (fast shutdown: open connections are cut), for outage tests. */
  public synchronized void stopPostgres() {
    postgres.close();
  }

  /** Starts PostgreSQL again on the same port and data, after {@link #stopPostgres()}. */
  public synchronized void startPostgres() {
    postgres = EmbeddedPostgres.start(dir.resolve("postgres"), postgres.port(), false);
  }

  private synchronized void stop() {
    postgres.close();
    redis.close();
    deleteTree(postgres.home());
    deleteTree(dir);
  }

  private static void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (var walk = Files.walk(root)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // best effort: throw-away test data
    }
  }
}
