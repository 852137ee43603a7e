package io.tollgate.metering.ledger;

import io.tollgate.config.Credits;
import static io.tollgate.metering.store.PgTime.utc;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;

/**
 * The credit ledger: every change of an account's credits is a row, and it is the authority
 * for balances. Redis holds the hot copy, rebuilt from here by {@link #spendable}. Amounts are
 * units (millicredits, {@link Credits}), here as everywhere money is computed.
 */
public final class CreditLedger {

  private static final String INSERT = "INSERT INTO credit_transactions (account_id, amount, kind, reason, idempotency_key, actor) "
      + "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, created_at";
  private static final String LIST = "SELECT id, amount, kind, reason, actor, created_at FROM credit_transactions "
      + "WHERE account_id = $1 ORDER BY id DESC LIMIT $2";
  // Prepaid and hybrid: everything granted minus everything the credits paid for (usage rows reach
  // Postgres through the metering pipeline; a hybrid account's overage was billed by meter instead).
  // Postpaid: the cap minus this period's usage.
  private static final String PREPAID = "SELECT coalesce((SELECT sum(amount) FROM credit_transactions WHERE account_id = $1), 0) "
      + "- coalesce((SELECT sum(credits - overage_credits) FROM usage_events WHERE account_id = $1), 0)";
  private static final String OVERAGE = "SELECT coalesce(sum(overage_credits), 0) FROM usage_events "
      + "WHERE account_id = $1 AND occurred_at >= $2";
  private static final String POSTPAID = "SELECT $2::bigint - coalesce((SELECT sum(credits) FROM usage_events "
      + "WHERE account_id = $1 AND occurred_at >= $3), 0)";

  /** Records a change; with an idempotency key a repeat is a no-op and returns false. */
  public Future<Boolean> record(SqlClient sql, long accountId, long amount, String kind, String reason, String idempotencyKey,
                                String actor) {
    return sql.preparedQuery(INSERT).execute(Tuple.of(accountId, amount, kind, reason, idempotencyKey, actor))
        .map(rows -> rows.rowCount() == 1);
  }

  public Future<List<JsonObject>> recent(SqlClient sql, long accountId, int limit) {
    return sql.preparedQuery(LIST).execute(Tuple.of(accountId, limit)).map(rows -> {
      List<JsonObject> out = new ArrayList<>();
      for (Row r : rows) {
        out.add(new JsonObject().put("id", r.getLong("id")).put("amount", Credits.json(r.getLong("amount"))).put("kind", r.getString("kind"))
            .put("reason", r.getString("reason")).put("actor", r.getString("actor"))
            .put("createdAt", r.getOffsetDateTime("created_at").toInstant().toString()));
      }
      return out;
    });
  }

  /** The account's overage in its current period, according to Postgres alone. */
  public Future<Long> overageThisPeriod(SqlClient sql, io.tollgate.metering.accounts.Account account) {
    return sql.preparedQuery(OVERAGE).execute(Tuple.of(account.id(), utc(account.periodStart())))
        .map(rows -> rows.iterator().next().getLong(0));
  }

  /** Spendable credits according to Postgres alone. */
  public Future<Long> spendable(SqlClient sql, io.tollgate.metering.accounts.Account account) {
    if ("postpaid".equals(account.billingMode())) {
      return sql.preparedQuery(POSTPAID)
          .execute(Tuple.of(account.id(), account.spendCap() == null ? 0L : account.spendCap(),
              utc(account.periodStart())))
          .map(rows -> rows.iterator().next().getLong(0));
    }
    return sql.preparedQuery(PREPAID).execute(Tuple.of(account.id())).map(rows -> rows.iterator().next().getLong(0));
  }
}
