package io.tollgate.metering.usage;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.util.Map;
import java.util.TreeMap;

/**
 * Usage events Postgres refuses to store, kept in {@code usage_dead_letters} (migration V5). Only
 * a rejection of the row itself dead-letters an event: SQLSTATE class 22 (data exception, such as
 * a NUL byte in text), 23 (integrity constraint) or 54 (program limit, such as an index row too
 * large). Anything else — Postgres down, a connection reset, a timeout — is transient: the event
 * stays pending and is stored on a later pass.
 */
final class UsageDeadLetters {

  static final String INSERT = """
      INSERT INTO usage_dead_letters (stream, entry_id, event_id, account_id, entry, error, sqlstate)
      VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (stream, entry_id) DO NOTHING
      """;

  private UsageDeadLetters() {
  }

  /** Whether {@code err} says the rows themselves are unacceptable, rather than that Postgres is unavailable. */
  static boolean rejectsRows(Throwable err) {
    if (!(err instanceof PgException pg) || pg.getSqlState() == null || pg.getSqlState().length() < 2) {
      return false;
    }
    String sqlClass = pg.getSqlState().substring(0, 2);
    return sqlClass.equals("22") || sqlClass.equals("23") || sqlClass.equals("54");
  }

  /** Records one rejected stream entry with Postgres's reason; recording it again is a no-op. */
  static Future<Void> record(SqlClient sql, String stream, String entryId, UsageEvent event, Map<String, String> fields,
                             Throwable err) {
    // JSON escapes every control character, so the entry is storable whatever it holds.
    String entry = new JsonObject(new TreeMap<String, Object>(fields)).encode();
    String sqlState = err instanceof PgException pg ? pg.getSqlState() : null;
    return sql.preparedQuery(INSERT).execute(Tuple.of(stream, entryId, event.eventId().toString(), event.accountId(), entry,
        String.valueOf(err.getMessage()), sqlState)).mapEmpty();
  }
}
