package io.tollgate.metering.access;

import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditLog;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;

/**
 * Signed tokens the browser holds (console sessions, customer links) that were ended before their
 * expiry: a sign-out, a revoked link. Listed until the token would have expired anyway, then
 * forgotten; a check is one primary-key lookup.
 */
public final class Revocations {

  private static final String INSERT = "INSERT INTO console_revocations (token_id, account_id, expires_at) VALUES ($1, $2, $3) "
      + "ON CONFLICT (token_id) DO NOTHING";
  private static final String CHECK = "SELECT 1 FROM console_revocations WHERE token_id = $1";
  // Bounded: each revocation forgets at most this many rows that can no longer matter.
  private static final String FORGET = "DELETE FROM console_revocations WHERE token_id IN "
      + "(SELECT token_id FROM console_revocations WHERE expires_at < $1 LIMIT 100)";

  private final Pool pool;
  private final AuditLog audit;
  private final Clock clock;

  public Revocations(Pool pool, AuditLog audit, Clock clock) {
    this.pool = pool;
    this.audit = audit;
    this.clock = clock;
  }

  /**
   * Ends {@code tokenId} until {@code expiresAt}, with an audit entry {@code action} on the
   * account (or on the console for a session) in the same transaction.
   */
  public Future<Void> revoke(String tokenId, Long accountId, Instant expiresAt, String action, Actor actor) {
    OffsetDateTime expires = OffsetDateTime.ofInstant(expiresAt, ZoneOffset.UTC);
    return pool.withTransaction(conn -> conn.preparedQuery(INSERT).execute(Tuple.from(Arrays.asList(tokenId, accountId, expires)))
        .compose(v -> audit.record(conn, actor.name(), action, accountId == null ? "console_session" : "account",
            accountId == null ? null : Long.toString(accountId), actor.ip(), null,
            new JsonObject().put("expiresAt", expiresAt.toString())))
        .compose(v -> conn.preparedQuery(FORGET).execute(Tuple.of(OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC))))
        .mapEmpty());
  }

  public Future<Boolean> isRevoked(String tokenId) {
    return pool.preparedQuery(CHECK).execute(Tuple.of(tokenId)).map(rows -> rows.size() > 0);
  }
}
