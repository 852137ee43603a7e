package io.tollgate.metering.accounts;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Accounts in Postgres. Every SQL statement on the table is here. */
public final class AccountStore {

  private static final String INSERT = "INSERT INTO accounts (id, name, plan, billing_mode, spend_cap, requests_per_minute, "
      + "tokens_per_minute, alert_webhook_url, usage_shard) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING " + Account.COLUMNS;
  private static final String SELECT = "SELECT " + Account.COLUMNS + " FROM accounts WHERE id = $1";
  private static final String SELECT_FOR_UPDATE = SELECT + " FOR UPDATE";
  private static final String PAGE = "SELECT " + Account.COLUMNS + " FROM accounts WHERE id > $1 ORDER BY id LIMIT $2";
  // Name contains the text (case-insensitive), or the id or Stripe customer is it; by id, so a page is an index range scan.
  private static final String SEARCH = "SELECT " + Account.COLUMNS + " FROM accounts WHERE id > $1 AND (name ILIKE $3 ESCAPE '\\' "
      + "OR id = $4 OR stripe_customer_id = $5) ORDER BY id LIMIT $2";
  private static final String UPDATE = "UPDATE accounts SET name = $2, plan = $3, billing_mode = $4, spend_cap = $5, "
      + "requests_per_minute = $6, tokens_per_minute = $7, alert_webhook_url = $8, status = $9, "
      + "alert_thresholds = $10, low_balance_credits = $11, stripe_customer_id = $12, trial_ends_at = $13, updated_at = now() WHERE id = $1 RETURNING " + Account.COLUMNS;
  private static final String NEXT_ID = "SELECT nextval(pg_get_serial_sequence('accounts', 'id'))";

  private final int shards;

  public AccountStore(int shards) {
    this.shards = shards;
  }

  /** Creates an account; its usage shard is fixed from its id so its Redis keys never move. */
  public Future<Account> create(SqlClient sql, NewAccount a) {
    return sql.query(NEXT_ID).execute().compose(rows -> {
      long id = rows.iterator().next().getLong(0);
      return sql.preparedQuery(INSERT)
          .execute(Tuple.of(id, a.name(), a.plan(), a.billingMode(), a.spendCap(), a.requestsPerMinute(),
              a.tokensPerMinute(), a.alertWebhookUrl(), (short) Math.floorMod(id, (long) shards)))
          .map(r -> Account.from(r.iterator().next()));
    });
  }

  public Future<Optional<Account>> get(SqlClient sql, long id) {
    return sql.preparedQuery(SELECT).execute(Tuple.of(id)).map(AccountStore::first);
  }

  public Future<Optional<Account>> getForUpdate(SqlClient sql, long id) {
    return sql.preparedQuery(SELECT_FOR_UPDATE).execute(Tuple.of(id)).map(AccountStore::first);
  }

  public Future<List<Account>> page(Pool pool, long afterId, int limit) {
    return pool.preparedQuery(PAGE).execute(Tuple.of(afterId, limit)).map(rows -> {
      List<Account> out = new ArrayList<>();
      rows.forEach(r -> out.add(Account.from(r)));
      return out;
    });
  }

  /** Accounts after {@code afterId} whose name contains {@code text} (case-insensitive), or whose id or Stripe customer id it is. */
  public Future<List<Account>> search(Pool pool, String text, long afterId, int limit) {
    String pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%";
    Long id = text.matches("[0-9]{1,18}") ? Long.valueOf(text) : null;
    return pool.preparedQuery(SEARCH).execute(Tuple.from(java.util.Arrays.asList(afterId, limit, pattern, id, text))).map(rows -> {
      List<Account> out = new ArrayList<>();
      rows.forEach(r -> out.add(Account.from(r)));
      return out;
    });
  }

  public Future<Account> update(SqlClient sql, Account a) {
    return sql.preparedQuery(UPDATE).execute(Tuple.from(java.util.Arrays.asList(a.id(), a.name(), a.plan(), a.billingMode(),
            a.spendCap(), a.requestsPerMinute(), a.tokensPerMinute(), a.alertWebhookUrl(), a.status(),
            a.alertThresholds() == null ? null : a.alertThresholds().toArray(new Integer[0]), a.lowBalanceCredits(),
            a.stripeCustomerId(), a.trialEndsAt() == null ? null : java.time.OffsetDateTime.ofInstant(a.trialEndsAt(), java.time.ZoneOffset.UTC))))
        .map(r -> Account.from(r.iterator().next()));
  }

  /** Accounts on a local trial that ended at or before {@code now}, oldest first. */
  public Future<List<Long>> trialsOver(SqlClient sql, java.time.Instant now, int limit) {
    return sql.preparedQuery("SELECT id FROM accounts WHERE trial_ends_at <= $1 ORDER BY trial_ends_at LIMIT $2")
        .execute(Tuple.of(java.time.OffsetDateTime.ofInstant(now, java.time.ZoneOffset.UTC), limit)).map(rows -> {
          List<Long> out = new ArrayList<>();
          rows.forEach(r -> out.add(r.getLong(0)));
          return out;
        });
  }

  private static Optional<Account> first(RowSet<Row> rows) {
    return rows.size() == 0 ? Optional.empty() : Optional.of(Account.from(rows.iterator().next()));
  }

  /** What an admin supplies to create an account. */
  public record NewAccount(String name, String plan, String billingMode, Long spendCap, Long requestsPerMinute,
                           Long tokensPerMinute, String alertWebhookUrl) {
  }
}
