package io.tollgate.gateway;

import io.tollgate.config.TollgateConfig;
import io.tollgate.embedded.EmbeddedPostgres;
import io.tollgate.embedded.EmbeddedRedis;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Redis and Postgres as the configuration asks: the configured servers, or — when no URL is
 * set — embedded ones under the data directory, so a newcomer needs nothing but a JDK. Both
 * paths give the rest of Tollgate nothing but URLs, so it runs the same code either way.
 */
final class BackingServices implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(BackingServices.class);

  private final Optional<EmbeddedRedis> embeddedRedis;
  private final Optional<EmbeddedPostgres> embeddedPostgres;
  private final String redisUrl;
  private final String postgresUrl;

  private BackingServices(Optional<EmbeddedRedis> redis, Optional<EmbeddedPostgres> postgres, String redisUrl, String postgresUrl) {
    this.embeddedRedis = redis;
    this.embeddedPostgres = postgres;
    this.redisUrl = redisUrl;
    this.postgresUrl = postgresUrl;
  }

  /** Blocking: starts whatever must be embedded. Call from main or test setup. */
  static BackingServices start(TollgateConfig config) {
    Path dataDir = config.dataDir().toAbsolutePath();
    Optional<EmbeddedRedis> redis = Optional.empty();
    Optional<EmbeddedPostgres> postgres = Optional.empty();
    try {
      String redisUrl;
      if (config.redis().embedded()) {
        redis = Optional.of(EmbeddedRedis.start(dataDir.resolve("redis"), 0));
        redisUrl = redis.get().url();
        log.info("no Redis URL configured: started embedded Redis on 127.0.0.1:{} with data in {} (set REDIS_URL to use your own)",
            redis.get().port(), dataDir.resolve("redis"));
      } else {
        redisUrl = config.redis().url().orElseThrow();
        log.info("using external Redis from configuration ({} mode, {} URL(s))", config.redis().mode().yamlName(), config.redis().seeds().size());
      }
      String postgresUrl;
      if (config.postgres().embedded()) {
        postgres = Optional.of(EmbeddedPostgres.start(dataDir.resolve("postgres"), 0, true));
        postgresUrl = postgres.get().url();
        log.info("no Postgres URL configured: started embedded PostgreSQL on 127.0.0.1:{} with data in {} (set DATABASE_URL to use your own)",
            postgres.get().port(), postgres.get().home());
      } else {
        postgresUrl = config.postgres().url().orElseThrow();
        log.info("using external PostgreSQL from configuration");
      }
      return new BackingServices(redis, postgres, redisUrl, postgresUrl);
    } catch (RuntimeException e) {
      redis.ifPresent(EmbeddedRedis::close);
      postgres.ifPresent(EmbeddedPostgres::close);
      throw e;
    }
  }

  String redisUrl() {
    return redisUrl;
  }

  String postgresUrl() {
    return postgresUrl;
  }

  @Override
  public void close() {
    embeddedPostgres.ifPresent(pg -> {
      pg.close();
      log.info("embedded PostgreSQL stopped");
    });
    embeddedRedis.ifPresent(redis -> {
      redis.close();
      log.info("embedded Redis stopped");
    });
  }
}
