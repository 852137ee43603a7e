package io.tollgate.stripesync.billing;

import io.tollgate.metering.Refusal;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountBilling;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditLog;
import io.tollgate.stripesync.webhooks.StripeEventStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Clock;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What an operator reads and changes of an account's billing: its Stripe customer link, billing
 * state, cached invoices, auto top-up settings and history, and the stored webhook events (list,
 * inspect, replay). Each change and its audit row share one transaction.
 */
public final class BillingAdmin {

  private static final String INVOICES = "SELECT id, subscription_id, status, billing_reason, amount_due, amount_paid, currency, "
      + "hosted_invoice_url, invoice_pdf, period_start, period_end, created, amount_refunded, refunded_at FROM stripe_invoices WHERE account_id = $1 "
      + "ORDER BY created DESC LIMIT $2";
  private static final String LINK = "UPDATE accounts SET stripe_customer_id = $2, updated_at = now() WHERE id = $1 "
      + "AND stripe_customer_id IS NULL";

  private final Pool pool;
  private final BillingSync billing;
  private final AccountStore accounts;
  private final AuditLog audit;
  private final Clock clock;
  private final Checkouts checkouts;

  public BillingAdmin(Pool pool, BillingSync billing, AccountStore accounts, AuditLog audit, Clock clock) {
    this.pool = pool;
    this.billing = billing;
    this.accounts = accounts;
    this.audit = audit;
    this.clock = clock;
    this.checkouts = new Checkouts(this, new io.tollgate.metering.audit.AuditTrail(pool, audit));
  }

  /** Checkout sessions for accounts (the admin API's and the console's). */
  public Checkouts checkouts() {
    return checkouts;
  }

  /** Links the account to its new Stripe customer (unless it has one already) and returns the account as stored. */
  public Future<Account> linkCustomer(long accountId, String customerId, Actor actor) {
    return pool.withTransaction(conn -> conn.preparedQuery(LINK).execute(Tuple.of(accountId, customerId))
            .compose(v -> audit.record(conn, actor.name(), "account.stripe_customer", "account", Long.toString(accountId), actor.ip(),
                null, new JsonObject().put("stripeCustomerId", customerId))))
        .compose(v -> accounts.get(pool, accountId)).map(Optional::orElseThrow);
  }

  /** The account's billing state; empty settings when it has none yet. */
  public Future<AccountBilling> accountBilling(long accountId) {
    return billing.accountBilling().get(pool, accountId).map(b -> b.orElse(AccountBilling.empty(accountId)));
  }

  /** Caches invoices as the Stripe API listed them now. */
  public Future<Void> cacheInvoices(long accountId, String customerId, List<InvoiceInfo> invoices) {
    Future<Void> all = Future.succeededFuture();
    Instant now = clock.instant();
    for (InvoiceInfo inv : invoices) {
      all = all.compose(v -> BillingEvents.cacheInvoice(pool, inv, accountId, customerId, now).mapEmpty());
    }
    return all;
  }

  /** The account's cached invoices, newest first. */
  public Future<List<JsonObject>> invoices(long accountId, int limit) {
    return pool.preparedQuery(INVOICES).execute(Tuple.of(accountId, limit)).map(rows -> {
      List<JsonObject> data = new ArrayList<>();
      for (Row r : rows) {
        data.add(new JsonObject().put("id", r.getString("id")).put("subscriptionId", r.getString("subscription_id"))
            .put("status", r.getString("status")).put("billingReason", r.getString("billing_reason"))
            .put("amountDue", r.getLong("amount_due")).put("amountPaid", r.getLong("amount_paid")).put("currency", r.getString("currency"))
            .put("hostedInvoiceUrl", r.getString("hosted_invoice_url")).put("invoicePdf", r.getString("invoice_pdf"))
            .put("periodStart", str(r.getOffsetDateTime("period_start"))).put("periodEnd", str(r.getOffsetDateTime("period_end")))
            .put("created", str(r.getOffsetDateTime("created"))).put("amountRefunded", r.getLong("amount_refunded"))
            .put("refundedAt", str(r.getOffsetDateTime("refunded_at"))));
      }
      return data;
    });
  }

  /**
   * Sets (a pack and threshold) or clears (nulls) the account's auto top-up; setting it again
   * also lifts a pause after a failed charge. Postpaid accounts cannot have one.
   */
  public Future<AccountBilling> changeAutoTopUp(long accountId, String pack, Long threshold, Actor actor) {
    return pool.withTransaction(conn -> accounts.getForUpdate(conn, accountId).compose(found -> {
      Account account = found.orElseThrow(() -> Refusal.notFound("account " + accountId));
      if (pack != null && "postpaid".equals(account.billingMode())) {
        throw Refusal.invalid("pack", "auto top-up needs a prepaid or hybrid account (account " + accountId + " is postpaid)");
      }
      return billing.accountBilling().lock(conn, accountId).compose(before -> {
        // The operator has seen to whatever paused it.
        AccountBilling after = before.withAutoTopUp(pack, threshold, false);
        return billing.accountBilling().save(conn, after).compose(v -> audit.record(conn, actor.name(), "billing.auto_top_up",
            "account", Long.toString(accountId), actor.ip(), before.autoTopUpJson(), after.autoTopUpJson())).map(after);
      });
    }));
  }

  /** The Stripe API client, when Stripe is configured. */
  public Optional<StripeBilling> stripe() {
    return billing.stripe();
  }

  /** Whether auto top-up can charge at all (Stripe configured). */
  public boolean topUpsEnabled() {
    return billing.topUps().enabled();
  }

  /** The account's auto top-ups, newest first. */
  public Future<JsonArray> topUps(long accountId, int limit) {
    return billing.topUps().list(pool, accountId, limit);
  }

  public Future<List<JsonObject>> events(String status, String type, Long accountId, StripeEventStore.Cursor before, int limit) {
    return billing.events().list(pool, status, type, accountId, before, limit);
  }

  public Future<Optional<JsonObject>> event(String id) {
    return billing.events().get(pool, id);
  }

  /** Queues a stored event to be processed again and wakes the worker; false when there is no such event. */
  public Future<Boolean> replay(String id, Actor actor) {
    return pool.withTransaction(conn -> billing.events().replay(conn, id, clock.instant()).compose(found -> !found
            ? Future.succeededFuture(false)
            : audit.record(conn, actor.name(), "webhook.replay", "stripe_event", id, actor.ip(), null, null).map(true)))
        .onSuccess(found -> {
          if (found) {
            billing.worker().wake();
          }
        });
  }

  private static String str(OffsetDateTime t) {
    return t == null ? null : t.toInstant().toString();
  }
}
