package io.tollgate.stripesync.billing;

import static io.tollgate.stripesync.billing.StripeJson.epoch;
import static io.tollgate.stripesync.billing.StripeJson.id;
import static io.tollgate.stripesync.billing.StripeJson.number;
import static io.tollgate.stripesync.billing.StripeJson.string;

import io.tollgate.config.Credits;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.alerts.Notices;
import io.tollgate.metering.audit.AuditLog;
import io.tollgate.metering.ledger.Balances;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.stripesync.webhooks.EventHandler.Handled;
import io.tollgate.stripesync.webhooks.EventHandler.Unprocessable;
import io.tollgate.stripesync.webhooks.StripeEvent;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Refunds and disputes of a credit purchase (a credit pack bought through Checkout, or an auto
 * top-up) take back the credits it granted that are still unspent.
 *
 * <p>{@code charge.refunded} takes back the refunded share of the purchase's credits (Stripe's
 * {@code amount_refunded} is cumulative, so each partial refund takes back up to its share so far);
 * {@code charge.dispute.created} takes back all of them. What was already taken back for the
 * purchase is deducted. Never below zero: an account that spent part of the credits loses at most
 * its current balance (the hot balance if Redis holds it, else the ledger's), and the rest — the
 * shortfall — is raised as a {@code refund_shortfall} notification for the operator to settle
 * (charge it, or let it go). A refund of a subscription invoice's payment is recorded on the
 * invoice instead (see {@link #invoiceRefund}). Each take-back is a {@code refund} ledger row under a key naming the
 * purchase and the refund or dispute, so a replayed event takes back once; it is audited.
 */
final class Refunds {

  private static final Logger log = LoggerFactory.getLogger(Refunds.class);
  private static final String ACTOR = "stripe";

  private static final String RECORD_PURCHASE = "INSERT INTO credit_purchases (payment_intent_id, account_id, credits, amount, "
      + "currency, grant_key) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_intent_id) DO NOTHING";
  private static final String PURCHASE = "SELECT account_id, credits, grant_key FROM credit_purchases WHERE payment_intent_id = $1 "
      + "UNION ALL SELECT account_id, credits, 'topup:' || id FROM top_ups WHERE payment_intent_id = $1 AND status = 'succeeded' "
      + "LIMIT 1";
  private static final String TAKEN_BACK = "SELECT coalesce(-sum(amount), 0) FROM credit_transactions WHERE account_id = $1 "
      + "AND kind = 'refund' AND idempotency_key LIKE $2";

  private static final String INVOICE_ACCOUNT = "SELECT account_id FROM stripe_invoices WHERE id = $1";
  private static final String INVOICE = "SELECT account_id, subscription_id, amount_refunded, created FROM stripe_invoices "
      + "WHERE id = $1 FOR UPDATE";
  private static final String RECORD_REFUND = "UPDATE stripe_invoices SET amount_refunded = $2, refunded_at = $3, updated_at = now() "
      + "WHERE id = $1";

  private record Purchase(long accountId, long credits, String grantKey) {
  }

  private final AccountStore accounts;
  private final CreditLedger ledger;
  private final AuditLog audit;
  private final Notices notices;
  private final Admissions admissions;

  private final io.vertx.core.Vertx vertx;
  private final Optional<StripeBilling> stripe;

  Refunds(io.vertx.core.Vertx vertx, Optional<StripeBilling> stripe, AccountStore accounts, CreditLedger ledger, AuditLog audit,
          Notices notices, Admissions admissions) {
    this.vertx = vertx;
    this.stripe = stripe;
    this.accounts = accounts;
    this.ledger = ledger;
    this.audit = audit;
    this.notices = notices;
    this.admissions = admissions;
  }

  /** Remembers which payment bought a credit pack's grant, so that its refund finds it. */
  Future<Void> recordPurchase(SqlConnection conn, String paymentIntentId, long accountId, long credits, long amount, String currency,
                              String grantKey) {
    if (paymentIntentId == null) {
      return Future.succeededFuture();
    }
    return conn.preparedQuery(RECORD_PURCHASE).execute(Tuple.of(paymentIntentId, accountId, credits, amount, currency, grantKey))
        .mapEmpty();
  }

  Future<Handled> handle(SqlConnection conn, StripeEvent e) {
    JsonObject o = e.object();
    boolean dispute = e.type().equals("charge.dispute.created");
    String objectId = id(o, "id");
    String paymentIntent = id(o, "payment_intent");
    if (objectId == null) {
      throw new Unprocessable("the " + (dispute ? "dispute" : "charge") + " in " + e.type() + " has no id");
    }
    if (paymentIntent == null) {
      return Future.succeededFuture(Handled.ignored((dispute ? "dispute " : "charge ") + objectId
          + " has no payment_intent: not a credit purchase of Tollgate"));
    }
    return conn.preparedQuery(PURCHASE).execute(Tuple.of(paymentIntent)).compose(rows -> {
      if (rows.size() == 0) {
        return dispute ? Future.succeededFuture(Handled.ignored("payment " + paymentIntent + " bought no Tollgate credits: nothing "
            + "to take back")) : invoiceRefund(conn, e, paymentIntent);
      }
      Row r = rows.iterator().next();
      Purchase p = new Purchase(r.getLong("account_id"), r.getLong("credits"), r.getString("grant_key"));
      long target;
      String key;
      String what;
      if (dispute) {
        target = p.credits();
        key = "takeback:" + p.grantKey() + ":dispute:" + objectId;
        what = "dispute " + objectId + " (" + string(o, "reason") + ")";
      } else {
        long charged = number(o, "amount");
        long refunded = number(o, "amount_refunded");
        // The refunded share in units, rounded down to a unit: a refund of a few cents takes back no more than it paid for.
        target = charged <= 0 || refunded >= charged ? p.credits()
            : java.math.BigInteger.valueOf(p.credits()).multiply(java.math.BigInteger.valueOf(refunded))
                .divide(java.math.BigInteger.valueOf(charged)).longValueExact();
        key = "takeback:" + p.grantKey() + ":refunded:" + refunded;
        what = "refund of " + refunded + " of " + charged + " on charge " + objectId;
      }
      return accounts.getForUpdate(conn, p.accountId()).compose(found -> {
        Account account = found.orElseThrow(() -> new IllegalStateException("account " + p.accountId() + " of purchase "
            + paymentIntent + " does not exist"));
        return conn.preparedQuery(TAKEN_BACK).execute(Tuple.of(account.id(), "takeback:" + likeEscape(p.grantKey()) + ":%"))
            .map(t -> t.iterator().next().getLong(0))
            .compose(already -> {
              long wanted = Math.max(0, target - already);
              if (wanted == 0) {
                return Future.succeededFuture(Handled.of(what + ": nothing more to take back (" + Credits.format(already) + " of the purchase's "
                    + Credits.format(p.credits()) + " credits already taken back)", account.id()));
              }
              return balance(conn, account).compose(balance -> takeBack(conn, e, account, p, paymentIntent, what, key, wanted,
                  Math.max(0, balance)));
            });
      });
    });
  }

  /**
   * A refund of a payment that bought no credits: if it paid a subscription invoice (Stripe's
   * invoice payments say which), the refund is recorded on the invoice row and the operator is
   * notified ({@code invoice_refunded}). The plan and the credits the invoice granted are left as
   * they are: a refund is a gesture about money, and the subscription's own events (a
   * cancellation, say) are what move the plan. Without {@code STRIPE_API_KEY} the invoice cannot be
   * found and the refund is only acknowledged.
   */
  private Future<Handled> invoiceRefund(SqlConnection conn, StripeEvent e, String paymentIntent) {
    JsonObject charge = e.object();
    if (stripe.isEmpty()) {
      return Future.succeededFuture(Handled.ignored("payment " + paymentIntent + " bought no Tollgate credits; which invoice it "
          + "paid, if any, needs STRIPE_API_KEY to look up"));
    }
    StripeBilling client = stripe.get();
    return vertx.executeBlocking(() -> client.invoiceOfPayment(paymentIntent), false).compose(invoice -> {
      if (invoice.isEmpty()) {
        return Future.succeededFuture(Handled.ignored("payment " + paymentIntent + " bought no Tollgate credits and paid no invoice "
            + "(another product): nothing to record"));
      }
      String invoiceId = invoice.get();
      return conn.preparedQuery(INVOICE_ACCOUNT).execute(Tuple.of(invoiceId)).compose(found -> {
        if (found.size() == 0 || found.iterator().next().getLong(0) == null) {
          // Its invoice.paid (which stores it) has not been processed yet: this refund is retried until it has.
          throw new IllegalStateException("invoice " + invoiceId + " refunded by charge " + id(charge, "id")
              + " is not stored for an account yet");
        }
        // The account first, then the invoice row: the order every other handler locks them in.
        return accounts.getForUpdate(conn, found.iterator().next().getLong(0)).compose(a -> conn.preparedQuery(INVOICE).execute(Tuple.of(invoiceId)));
      }).compose(rows -> {
        Row r = rows.iterator().next();
        long refunded = number(charge, "amount_refunded");
        long before = r.getLong("amount_refunded");
        long accountId = r.getLong("account_id");
        if (refunded <= before) {
          return Future.succeededFuture(Handled.of("invoice " + invoiceId + ": refund of " + refunded + " already recorded", accountId));
        }
        long charged = Math.max(number(charge, "amount"), 1);
        Instant at = Objects.requireNonNullElse(epoch(charge, "created"), e.created());
        JsonObject payload = new JsonObject().put("type", "invoice.refunded").put("accountId", accountId).put("invoiceId", invoiceId)
            .put("subscriptionId", r.getString("subscription_id")).put("charge", id(charge, "id")).put("amountRefunded", refunded)
            .put("amountCharged", number(charge, "amount")).put("currency", string(charge, "currency"));
        // One notification per refunded share of the charge (Stripe's amount_refunded is cumulative): a repeat of the event adds none.
        int share = (int) Math.max(1, Math.min(100, refunded * 100 / charged));
        return conn.preparedQuery(RECORD_REFUND).execute(Tuple.of(invoiceId, refunded, io.tollgate.metering.store.PgTime.utc(e.created())))
            .compose(v -> accounts.getForUpdate(conn, accountId)).map(Optional::orElseThrow)
            .compose(account -> audit.record(conn, ACTOR, "invoice.refund", "stripe_invoice", invoiceId, null,
                    new JsonObject().put("amountRefunded", before), payload.copy().put("event", e.id()))
                .compose(v -> notices.raise(conn, account, "invoice_refunded", share, r.getOffsetDateTime("created").toInstant(), payload)))
            .map(raised -> Handled.of("invoice " + invoiceId + ": " + refunded + " of " + number(charge, "amount") + " "
                + string(charge, "currency") + " refunded, recorded" + (raised ? " and the operator notified" : "")
                + "; plan and credits unchanged", accountId));
      });
    });
  }

  private Future<Long> balance(SqlConnection conn, Account account) {
    return Balances.spendable(admissions, ledger, conn, account);
  }

  private Future<Handled> takeBack(SqlConnection conn, StripeEvent e, Account account, Purchase p, String paymentIntent, String what,
                                   String key, long wanted, long balance) {
    long take = Math.min(wanted, balance);
    long shortfall = wanted - take;
    String reason = what + ": " + Credits.format(wanted) + " credits of purchase " + p.grantKey() + " taken back"
        + (shortfall > 0 ? " (" + Credits.format(take) + " unspent; " + Credits.format(shortfall) + " already spent)" : "");
    // Recorded even when nothing was unspent (amount 0), so that a replay finds its key and does nothing.
    return ledger.record(conn, account.id(), -take, "refund", reason, key, ACTOR).compose(applied -> {
      if (!applied) {
        return Future.succeededFuture(Handled.of(what + ": already taken back (" + key + ")", account.id()));
      }
      JsonObject after = new JsonObject().put("event", e.id()).put("paymentIntent", paymentIntent).put("purchase", p.grantKey())
          .put("wanted", Credits.json(wanted)).put("takenBack", Credits.json(take)).put("shortfall", Credits.json(shortfall))
          .put("balanceBefore", Credits.json(balance));
      Future<Void> steps = audit.record(conn, ACTOR, "credits.take_back", "account", Long.toString(account.id()), null,
          new JsonObject().put("balance", Credits.json(balance)), after).mapEmpty();
      if (shortfall > 0) {
        Instant at = Objects.requireNonNullElse(epoch(e.object(), "created"), e.created());
        JsonObject payload = new JsonObject().put("type", "credits.refund_shortfall").put("accountId", account.id())
            .put("paymentIntent", paymentIntent).put("cause", e.type()).put("creditsToTakeBack", Credits.json(wanted))
            .put("takenBack", Credits.json(take)).put("shortfall", Credits.json(shortfall));
        steps = steps.compose(v -> notices.raise(conn, account, "refund_shortfall", 0, at, payload)).mapEmpty();
        log.warn("account {}: {} wants {} credits back but only {} were unspent; shortfall {} raised as a notification",
            account.id(), what, Credits.format(wanted), Credits.format(take), Credits.format(shortfall));
      }
      String outcome = what + ": " + Credits.format(take) + " credits taken back" + (shortfall > 0 ? ", " + Credits.format(shortfall)
          + " already spent (refund_shortfall notification raised)" : "");
      return steps.map(v -> take > 0 ? new Handled(outcome, account.id(), List.of(() -> admissions.addCreditsIfLoaded(account.id(), -take)))
          : Handled.of(outcome, account.id()));
    });
  }

  private static String likeEscape(String s) {
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
  }
}
