package io.tollgate.stripesync.billing;

import io.tollgate.config.Credits;
import io.tollgate.metering.alerts.Notices;

import static io.tollgate.metering.store.PgTime.utc;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.BillingConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountBilling;
import io.tollgate.metering.accounts.AccountBillingStore;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.stripesync.billing.BillingFailure;
import io.tollgate.stripesync.billing.PaymentResult;
import io.tollgate.stripesync.billing.StripeBilling;
import io.tollgate.stripesync.webhooks.EventHandler.Handled;
import io.tollgate.stripesync.webhooks.StripeEvent;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Automatic top-up: when a prepaid account's balance falls below its threshold, its saved payment
 * method is charged off-session for its configured credit pack.
 *
 * <p>At most one top-up per account is in flight (a partial unique index on {@code top_ups}) and
 * one starts at most every {@code billing.autoTopUpCooldownMinutes}. Each top-up is charged under
 * its own idempotency key, so a charge retried after a timeout or a crash is charged once; its
 * credits are granted under the key {@code topup:<id>}, whether the synchronous answer or the
 * {@code payment_intent.succeeded} webhook comes first. A declined charge notifies the account and
 * pauses auto top-up until the payment method changes: it is never retried in a loop.
 */
public final class AutoTopUp {

  private static final Logger log = LoggerFactory.getLogger(AutoTopUp.class);
  /** A top-up still processing after this long is charged again with the same idempotency key. */
  static final Duration RESUME_AFTER = Duration.ofMinutes(2);
  private static final int MAX_CHARGE_ATTEMPTS = 5;

  private static final String ENROLLED = "SELECT account_id, auto_top_up_threshold FROM account_billing WHERE account_id = ANY($1) "
      + "AND auto_top_up_pack IS NOT NULL AND auto_top_up_threshold IS NOT NULL AND NOT auto_top_up_paused";
  private static final String RECENT = "SELECT 1 FROM top_ups WHERE account_id = $1 AND created_at > $2 LIMIT 1";
  private static final String START = "INSERT INTO top_ups (account_id, pack, credits, amount, currency, balance_at_trigger, created_at) "
      + "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account_id) WHERE status = 'processing' DO NOTHING RETURNING id";
  private static final String ATTEMPT = "UPDATE top_ups SET attempts = attempts + 1, payment_intent_id = coalesce($2, payment_intent_id), "
      + "last_error = $3 WHERE id = $1 AND status = 'processing' RETURNING attempts";
  private static final String SUCCEED = "UPDATE top_ups SET status = 'succeeded', payment_intent_id = coalesce($2, payment_intent_id), "
      + "finished_at = $3, last_error = NULL WHERE id = $1 AND status = 'processing' RETURNING account_id, pack, credits, amount, currency, "
      + "created_at";
  private static final String FAIL = "UPDATE top_ups SET status = 'failed', payment_intent_id = coalesce($2, payment_intent_id), "
      + "finished_at = $3, last_error = $4 WHERE id = $1 AND status = 'processing' RETURNING account_id, pack, credits, amount, currency, created_at";
  private static final String OWNER = "SELECT account_id FROM top_ups WHERE id = $1";
  private static final String STALE = "SELECT id FROM top_ups WHERE status = 'processing' AND created_at <= $1 ORDER BY id LIMIT 50";
  private static final String GET = "SELECT id, account_id, pack, credits, amount, currency, status, balance_at_trigger, payment_intent_id, "
      + "last_error, attempts, created_at, finished_at FROM top_ups WHERE id = $1";
  private static final String LIST = GET.replace("WHERE id = $1", "WHERE account_id = $1 ORDER BY id DESC LIMIT $2");

  private final Vertx vertx;
  private final Pool pool;
  private final TollgateConfig config;
  private final AccountStore accounts;
  private final AccountBillingStore billing;
  private final CreditLedger ledger;
  private final Admissions admissions;
  private final Notices notices;
  private final Optional<StripeBilling> stripe;
  private final Clock clock;
  /** By result: started, succeeded, failed. */
  private final Map<String, Counter> counters = new java.util.HashMap<>();

  public AutoTopUp(Vertx vertx, Pool pool, TollgateConfig config, AccountStore accounts, AccountBillingStore billing,
                   CreditLedger ledger, Admissions admissions, Notices notices, Optional<StripeBilling> stripe, Clock clock,
                   MeterRegistry registry) {
    this.vertx = vertx;
    this.pool = pool;
    this.config = config;
    this.accounts = accounts;
    this.billing = billing;
    this.ledger = ledger;
    this.admissions = admissions;
    this.notices = notices;
    this.stripe = stripe;
    this.clock = clock;
    for (String result : List.of("started", "succeeded", "failed")) {
      counters.put(result, Counter.builder("tollgate_auto_top_ups").description("Automatic top-ups started, succeeded and failed")
          .tag("result", result).register(registry));
    }
  }

  public boolean enabled() {
    return stripe.isPresent();
  }

  /**
   * Starts a top-up for each of these accounts whose balance is below its threshold; returns the
   * top-ups this call started. One query finds the enrolled accounts among them; only those cost
   * a Redis read.
   */
  public Future<List<Long>> check(Collection<Long> accountIds) {
    if (stripe.isEmpty() || accountIds.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    return pool.preparedQuery(ENROLLED).execute(Tuple.of(accountIds.toArray(new Long[0]))).compose(rows -> {
      Future<List<Long>> all = Future.succeededFuture(new ArrayList<>());
      for (Row r : rows) {
        long id = r.getLong("account_id");
        long threshold = r.getLong("auto_top_up_threshold");
        all = all.compose(started -> admissions.balance(id)
            .compose(hot -> hot.isEmpty() || hot.get() >= threshold ? Future.succeededFuture(Optional.<Long>empty()) : start(id, hot.get()))
            .map(s -> {
              s.ifPresent(started::add);
              return started;
            }).recover(err -> {
              log.warn("auto top-up check of account {} failed: {}", id, err.toString());
              return Future.succeededFuture(started);
            }));
      }
      return all;
    });
  }

  private boolean eligible(AccountBilling b) {
    return b.autoTopUpPack() != null && b.autoTopUpThreshold() != null && !b.autoTopUpPaused()
        && config.billing().creditPacks().containsKey(b.autoTopUpPack());
  }

  /** Records a top-up (at most one in flight, none within the cooldown) and charges it. */
  Future<Optional<Long>> start(long accountId, long balance) {
    Instant now = clock.instant();
    return pool.withTransaction(conn -> accounts.getForUpdate(conn, accountId).compose(account -> billing.lock(conn, accountId)
        .compose(b -> {
          if (account.isEmpty() || !eligible(b) || account.get().stripeCustomerId() == null || !account.get().enforcesCredits()) {
            return Future.succeededFuture(Optional.<Long>empty());
          }
          BillingConfig.CreditPack pack = config.billing().creditPacks().get(b.autoTopUpPack());
          return conn.preparedQuery(RECENT).execute(Tuple.of(accountId, utc(now.minus(config.billing().autoTopUpCooldown()))))
              .compose(recent -> recent.size() > 0 ? Future.succeededFuture(Optional.<Long>empty())
                  : conn.preparedQuery(START).execute(Tuple.of(accountId, pack.name(), pack.credits(), pack.amount(), pack.currency(),
                      balance, utc(now))).map(rows -> rows.size() == 0 ? Optional.<Long>empty()
                      : Optional.of(rows.iterator().next().getLong("id"))));
        }))).compose(started -> {
          if (started.isEmpty()) {
            return Future.succeededFuture(started);
          }
          count("started");
          log.info("account {}: balance {} credits below its auto top-up threshold; top-up {} started", accountId,
              Credits.format(balance), started.get());
          return charge(started.get()).map(started);
        });
  }

  /** Charges a processing top-up (again, after a timeout: same idempotency key, so at most once). */
  Future<Void> charge(long topUpId) {
    return pool.preparedQuery(GET).execute(Tuple.of(topUpId)).compose(rows -> {
      Row t = rows.iterator().next();
      if (!"processing".equals(t.getString("status"))) {
        return Future.succeededFuture();
      }
      long accountId = t.getLong("account_id");
      return accounts.get(pool, accountId).compose(a -> billing.get(pool, accountId).compose(b -> {
        String customer = a.orElseThrow().stripeCustomerId();
        String pm = b.map(AccountBilling::defaultPaymentMethod).orElse(null);
        Map<String, String> metadata = Map.of("tollgate_kind", "auto_top_up", "tollgate_top_up_id", Long.toString(topUpId),
            "tollgate_account_id", Long.toString(accountId), "tollgate_credits", Credits.format(t.getLong("credits")),
            "tollgate_pack", t.getString("pack"));
        return vertx.executeBlocking(() -> stripe.orElseThrow().chargeOffSession(customer, pm, t.getLong("amount"), t.getString("currency"),
                metadata, "tollgate-top-up-" + topUpId), false)
            .compose(result -> settled(topUpId, result), err -> failedCharge(topUpId, err));
      }));
    });
  }

  private Future<Void> settled(long topUpId, PaymentResult result) {
    if ("succeeded".equals(result.status())) {
      return pool.withTransaction(conn -> complete(conn, topUpId, result.paymentIntentId()))
          .compose(h -> runAfter(h)).mapEmpty();
    }
    // processing / requires_action: the payment_intent.* webhook finishes it.
    return pool.preparedQuery(ATTEMPT).execute(Tuple.of(topUpId, result.paymentIntentId(), "payment intent " + result.status()))
        .mapEmpty();
  }

  private Future<Void> failedCharge(long topUpId, Throwable err) {
    if (err instanceof BillingFailure f && f.retryable()) {
      // Unknown outcome: charged again later under the same idempotency key, a few times at most.
      return pool.preparedQuery(ATTEMPT).execute(Tuple.of(topUpId, null, f.getMessage())).compose(rows -> {
        int attempts = rows.size() == 0 ? 0 : rows.iterator().next().getInteger("attempts");
        log.warn("auto top-up {} charge failed (attempt {}), retrying in {}: {}", topUpId, attempts, RESUME_AFTER, f.getMessage());
        return attempts >= MAX_CHARGE_ATTEMPTS
            ? pool.withTransaction(conn -> fail(conn, topUpId, null, "gave up after " + attempts + " attempts: " + f.getMessage()))
                .compose(this::runAfter).mapEmpty()
            : Future.succeededFuture();
      });
    }
    String pi = err instanceof BillingFailure f ? f.paymentIntentId().orElse(null) : null;
    String message = err.getMessage() == null ? err.getClass().getSimpleName() : err.getMessage();
    return pool.withTransaction(conn -> fail(conn, topUpId, pi, message)).compose(this::runAfter).mapEmpty();
  }

  private Future<Void> runAfter(Handled h) {
    return h.runAfterCommit(err -> log.warn("auto top-up recorded, but the hot balance was not updated ({}); "
        + "it is rebuilt from the ledger", err.toString()));
  }

  /** Marks a top-up succeeded and grants its credits, once. */
  Future<Handled> complete(SqlConnection conn, long topUpId, String paymentIntentId) {
    return conn.preparedQuery(SUCCEED).execute(Tuple.of(topUpId, paymentIntentId, utc(clock.instant()))).compose(rows -> {
      if (rows.size() == 0) {
        return Future.succeededFuture(Handled.of("top-up " + topUpId + " already finished", null));
      }
      Row r = rows.iterator().next();
      long accountId = r.getLong("account_id");
      long credits = r.getLong("credits");
      JsonObject receipt = new JsonObject().put("type", "top_up.receipt").put("accountId", accountId).put("topUpId", topUpId)
          .put("pack", r.getString("pack")).put("credits", io.tollgate.config.Credits.json(credits)).put("amount", r.getLong("amount"))
          .put("currency", r.getString("currency")).put("paymentIntent", paymentIntentId).put("automatic", true);
      return ledger.record(conn, accountId, credits, "top_up", "auto top-up, pack " + r.getString("pack") + " (payment "
          + paymentIntentId + ")", "topup:" + topUpId, "auto-top-up")
          .compose(applied -> !applied ? Future.succeededFuture(false) : accounts.get(conn, accountId).compose(a -> notices.raise(conn,
              a.orElseThrow(), "top_up_receipt", 0, r.getOffsetDateTime("created_at").toInstant(), receipt)).map(true))
          .map(applied -> {
            count("succeeded");
            log.info("account {}: auto top-up {} succeeded, {} credits", accountId, topUpId, Credits.format(credits));
            return applied ? new Handled("top-up " + topUpId + " succeeded: " + Credits.format(credits) + " credits granted", accountId,
                List.of(() -> admissions.addCreditsIfLoaded(accountId, credits)))
                : Handled.of("top-up " + topUpId + " already granted", accountId);
          });
    });
  }

  /** Marks a top-up failed, pauses auto top-up and notifies the account. */
  Future<Handled> fail(SqlConnection conn, long topUpId, String paymentIntentId, String error) {
    Instant now = clock.instant();
    return conn.preparedQuery(OWNER).execute(Tuple.of(topUpId)).compose(owner -> {
      if (owner.size() == 0) {
        return Future.succeededFuture(Handled.of("top-up " + topUpId + " already finished", null));
      }
      long owned = owner.iterator().next().getLong(0);
      // The lock order of start(): the account, its billing row, then the top-up. Locking the
      // top-up first deadlocked against another instance starting a top-up for the same account.
      return accounts.getForUpdate(conn, owned).compose(a -> billing.lock(conn, owned)).compose(b ->
          conn.preparedQuery(FAIL).execute(Tuple.of(topUpId, paymentIntentId, utc(now), error)).compose(rows -> {
            if (rows.size() == 0) {
              return Future.succeededFuture(Handled.of("top-up " + topUpId + " already finished", null));
            }
            Row r = rows.iterator().next();
            long accountId = r.getLong("account_id");
            count("failed");
            log.warn("account {}: auto top-up {} failed, auto top-up paused until the payment method changes: {}", accountId, topUpId,
                error);
            JsonObject payload = new JsonObject().put("type", "top_up.failed").put("accountId", accountId).put("topUpId", topUpId)
                .put("pack", r.getString("pack")).put("amount", r.getLong("amount")).put("currency", r.getString("currency"))
                .put("error", error);
            return billing.save(conn, b.withAutoTopUp(b.autoTopUpPack(), b.autoTopUpThreshold(), true))
                .compose(v -> accounts.get(conn, accountId))
                .compose(a -> notices.raise(conn, a.orElseThrow(), "top_up_failed", 0, r.getOffsetDateTime("created_at").toInstant(),
                    payload))
                .map(n -> Handled.of("top-up " + topUpId + " failed: " + error + "; auto top-up paused", accountId));
          }));
    });
  }

  /** {@code payment_intent.*} events of our own top-ups (metadata {@code tollgate_kind=auto_top_up}). */
  public Future<Handled> onPaymentIntent(SqlConnection conn, StripeEvent e) {
    JsonObject pi = e.object();
    JsonObject meta = StripeJson.metadata(pi);
    if (!"auto_top_up".equals(StripeJson.string(meta, "tollgate_kind"))) {
      return Future.succeededFuture(Handled.ignored("payment intent " + StripeJson.id(pi, "id") + " is not a Tollgate auto top-up"));
    }
    Optional<Long> topUp = StripeJson.positive(StripeJson.string(meta, "tollgate_top_up_id"));
    if (topUp.isEmpty()) {
      throw new io.tollgate.stripesync.webhooks.EventHandler.Unprocessable("payment intent " + StripeJson.id(pi, "id")
          + " has no tollgate_top_up_id metadata");
    }
    if (e.type().equals("payment_intent.succeeded")) {
      return complete(conn, topUp.get(), StripeJson.id(pi, "id"));
    }
    JsonObject error = StripeJson.object(pi, "last_payment_error");
    String why = "payment failed: " + (StripeJson.string(error, "decline_code") != null ? StripeJson.string(error, "decline_code")
        : String.valueOf(StripeJson.string(error, "code"))) + (StripeJson.string(error, "message") == null ? "" : " (" + StripeJson.string(error, "message") + ")");
    return fail(conn, topUp.get(), StripeJson.id(pi, "id"), why);
  }

  /** Charges again the top-ups left processing (a crash, a timeout); safe on several instances (same idempotency key). */
  public Future<Integer> resume() {
    if (stripe.isEmpty()) {
      return Future.succeededFuture(0);
    }
    return pool.preparedQuery(STALE).execute(Tuple.of(utc(clock.instant().minus(RESUME_AFTER)))).compose(rows -> {
      Future<Integer> all = Future.succeededFuture(0);
      for (Row r : rows) {
        long id = r.getLong("id");
        all = all.compose(n -> charge(id).map(n + 1).recover(err -> Future.succeededFuture(n)));
      }
      return all;
    });
  }

  public Future<JsonArray> list(SqlClient sql, long accountId, int limit) {
    return sql.preparedQuery(LIST).execute(Tuple.of(accountId, limit)).map(rows -> {
      JsonArray out = new JsonArray();
      for (Row r : rows) {
        out.add(new JsonObject().put("id", r.getLong("id")).put("pack", r.getString("pack")).put("credits", Credits.json(r.getLong("credits")))
            .put("amount", r.getLong("amount")).put("currency", r.getString("currency")).put("status", r.getString("status"))
            .put("balanceAtTrigger", Credits.json(r.getLong("balance_at_trigger"))).put("paymentIntentId", r.getString("payment_intent_id"))
            .put("lastError", r.getString("last_error")).put("attempts", r.getInteger("attempts"))
            .put("createdAt", r.getOffsetDateTime("created_at").toInstant().toString())
            .put("finishedAt", r.getOffsetDateTime("finished_at") == null ? null : r.getOffsetDateTime("finished_at").toInstant().toString()));
      }
      return out;
    });
  }

  private void count(String result) {
    counters.get(result).increment();
  }
}
