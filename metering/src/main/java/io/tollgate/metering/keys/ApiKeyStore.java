package io.tollgate.metering.keys;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** API keys in Postgres: only SHA-256 hashes, prefix and last 4 characters are stored. */
public final class ApiKeyStore {

  private static final String INSERT = "INSERT INTO api_keys (account_id, prefix, key_hash, last4, name, scopes, "
      + "requests_per_minute, tokens_per_minute, expires_at, budget_credits, budget_period, budget_of) "
      + "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING " + ApiKey.COLUMNS;
  private static final String SET_BUDGET = "UPDATE api_keys SET budget_credits = $2, budget_period = $3 WHERE id = $1 "
      + "RETURNING " + ApiKey.COLUMNS + ", key_hash";
  private static final String BY_ACCOUNT = "SELECT " + ApiKey.COLUMNS + " FROM api_keys WHERE account_id = $1 ORDER BY id";
  private static final String BY_ID = "SELECT " + ApiKey.COLUMNS + ", key_hash FROM api_keys WHERE id = $1";
  private static final String REVOKE = "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 "
      + "RETURNING " + ApiKey.COLUMNS + ", key_hash";
  private static final String RETIRE = "UPDATE api_keys SET expires_at = least(coalesce(expires_at, $2), $2), replaced_by = $3 "
      + "WHERE id = $1 RETURNING " + ApiKey.COLUMNS + ", key_hash";
  private static final String TOUCH = "UPDATE api_keys k SET last_used_at = greatest(k.last_used_at, v.used) "
      + "FROM (SELECT unnest($1::bigint[]) AS id, unnest($2::timestamptz[]) AS used) v WHERE k.id = v.id";

  /** A new key: the stored record, and the plaintext shown once. */
  public record Created(ApiKey key, String plaintext) {
  }

  /** A key with its hash, for announcing a revocation to every instance. */
  public record WithHash(ApiKey key, byte[] hash) {
  }

  public Future<Created> create(SqlClient sql, long accountId, String prefix, String name, JsonObject scopes,
                                Long requestsPerMinute, Long tokensPerMinute, Instant expiresAt) {
    return create(sql, accountId, prefix, name, scopes, requestsPerMinute, tokensPerMinute, expiresAt, null, null);
  }

  /**
   * A new key; {@code budget} may be null. {@code budgetOf}: the key whose spend this one continues
   * (a rotation's predecessor), null for a key of its own.
   */
  public Future<Created> create(SqlClient sql, long accountId, String prefix, String name, JsonObject scopes,
                                Long requestsPerMinute, Long tokensPerMinute, Instant expiresAt, KeyBudget budget, Long budgetOf) {
    String plaintext = ApiKeyFormat.generate(prefix);
    return sql.preparedQuery(INSERT).execute(Tuple.from(java.util.Arrays.asList(accountId, prefix,
            io.vertx.core.buffer.Buffer.buffer(ApiKeyFormat.hash(plaintext)), ApiKeyFormat.last4(plaintext), name,
            scopes == null ? new JsonObject() : scopes, requestsPerMinute, tokensPerMinute,
            expiresAt == null ? null : OffsetDateTime.ofInstant(expiresAt, ZoneOffset.UTC),
            budget == null ? null : budget.credits(), budget == null ? null : budget.period(), budgetOf)))
        .map(rows -> new Created(ApiKey.from(rows.iterator().next()), plaintext));
  }

  /** Sets (or, with null, removes) the key's budget; empty when there is no such key. */
  public Future<Optional<WithHash>> setBudget(SqlClient sql, long keyId, Long credits, String period) {
    return sql.preparedQuery(SET_BUDGET).execute(Tuple.from(java.util.Arrays.asList(keyId, credits, period)))
        .map(rows -> rows.size() == 0 ? Optional.empty()
            : Optional.of(new WithHash(ApiKey.from(rows.iterator().next()), rows.iterator().next().getBuffer("key_hash").getBytes())));
  }

  public Future<List<ApiKey>> listForAccount(SqlClient sql, long accountId) {
    return sql.preparedQuery(BY_ACCOUNT).execute(Tuple.of(accountId)).map(rows -> {
      List<ApiKey> out = new ArrayList<>();
      rows.forEach(r -> out.add(ApiKey.from(r)));
      return out;
    });
  }

  public Future<Optional<WithHash>> get(SqlClient sql, long keyId) {
    return sql.preparedQuery(BY_ID).execute(Tuple.of(keyId)).map(rows -> rows.size() == 0 ? Optional.empty()
        : Optional.of(new WithHash(ApiKey.from(rows.iterator().next()), rows.iterator().next().getBuffer("key_hash").getBytes())));
  }

  public Future<Optional<WithHash>> revoke(SqlClient sql, long keyId) {
    return sql.preparedQuery(REVOKE).execute(Tuple.of(keyId)).map(rows -> rows.size() == 0 ? Optional.empty()
        : Optional.of(new WithHash(ApiKey.from(rows.iterator().next()), rows.iterator().next().getBuffer("key_hash").getBytes())));
  }

  /** Marks an old key as replaced, valid only until {@code until} (the rotation overlap). */
  public Future<WithHash> retire(SqlClient sql, long keyId, Instant until, long replacedBy) {
    return sql.preparedQuery(RETIRE).execute(Tuple.of(keyId, OffsetDateTime.ofInstant(until, ZoneOffset.UTC), replacedBy))
        .map(rows -> new WithHash(ApiKey.from(rows.iterator().next()), rows.iterator().next().getBuffer("key_hash").getBytes()));
  }

  /** The hot path's lookup on a cache miss: key joined with its account. */
  public Future<Optional<KeyGrant>> findGrant(Pool pool, byte[] hash) {
    return pool.preparedQuery(KeyGrant.QUERY).execute(Tuple.of(io.vertx.core.buffer.Buffer.buffer(hash)))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(KeyGrant.from(rows.iterator().next())));
  }

  /** Writes many keys' last-use times in one statement (batched off the hot path). */
  public Future<Void> touch(Pool pool, Map<Long, Instant> lastUsed) {
    if (lastUsed.isEmpty()) {
      return Future.succeededFuture();
    }
    Long[] ids = new Long[lastUsed.size()];
    OffsetDateTime[] times = new OffsetDateTime[lastUsed.size()];
    int i = 0;
    for (Map.Entry<Long, Instant> e : lastUsed.entrySet()) {
      ids[i] = e.getKey();
      times[i++] = OffsetDateTime.ofInstant(e.getValue(), ZoneOffset.UTC);
    }
    // addValue, not Tuple.of: varargs would spread the second array into separate parameters.
    return pool.preparedQuery(TOUCH).execute(Tuple.tuple().addValue(ids).addValue(times)).mapEmpty();
  }
}
