package io.tollgate.metering.schema;

import io.tollgate.config.Urls;
import io.tollgate.metering.store.PostgresUrls;
import java.util.Properties;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;

/**
 * Brings the database schema up to date with the Flyway migrations in {@code db/migration}.
 * Blocking (JDBC): run it before Vert.x starts or inside {@code executeBlocking}.
 */
public final class SchemaMigrator {

  private SchemaMigrator() {
  }

  /** Applies pending migrations and returns how many were applied now. */
  public static int migrate(String postgresUrl) {
    Properties props = PostgresUrls.jdbcProperties(postgresUrl);
    try {
      Flyway flyway = Flyway.configure()
          .dataSource(PostgresUrls.toJdbcUrl(postgresUrl), props.getProperty("user"), props.getProperty("password"))
          .locations("classpath:db/migration")
          .connectRetries(10)
          .load();
      return flyway.migrate().migrationsExecuted;
    } catch (FlywayException e) {
      throw new IllegalStateException("database migration failed on " + Urls.mask(postgresUrl) + ": " + e.getMessage(), e);
    }
  }
}
