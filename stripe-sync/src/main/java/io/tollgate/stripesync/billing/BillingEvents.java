package io.tollgate.stripesync.billing;

import io.tollgate.config.Credits;
import io.tollgate.metering.periods.PeriodRollover;
import io.tollgate.metering.alerts.Notices;

import static io.tollgate.stripesync.billing.StripeJson.epoch;
import static io.tollgate.stripesync.billing.StripeJson.id;
import static io.tollgate.stripesync.billing.StripeJson.metadata;
import static io.tollgate.stripesync.billing.StripeJson.number;
import static io.tollgate.stripesync.billing.StripeJson.object;
import static io.tollgate.stripesync.billing.StripeJson.string;
import static io.tollgate.metering.store.PgTime.utc;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountStatus;
import io.tollgate.metering.accounts.AccountBilling;
import io.tollgate.metering.accounts.AccountBillingStore;
import io.tollgate.metering.accounts.AccountStore;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.audit.AuditLog;
import io.tollgate.metering.ledger.CreditLedger;
import io.tollgate.stripesync.webhooks.EventHandler;
import io.tollgate.stripesync.webhooks.StripeEvent;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.tollgate.stripesync.billing.InvoiceInfo;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What each Stripe event does to an account: plan, status, period, credits, invoices, payment
 * method. Runs inside the worker's transaction, with the account row locked, so two events of
 * one account apply one after the other on any number of instances.
 *
 * <p>Out-of-order delivery: a subscription event older ({@code created}) than the newest one
 * applied is ignored; an invoice row is only overwritten by a newer event and never leaves
 * paid/void; credits are granted under idempotency keys (a checkout session, a period and
 * invoice), so a repeat or a late duplicate grants nothing.
 */
public final class BillingEvents implements EventHandler {

  private static final Logger log = LoggerFactory.getLogger(BillingEvents.class);
  private static final String ACTOR = "stripe";
  private static final Set<String> CYCLE_REASONS = Set.of("subscription_create", "subscription_cycle");
  private static final Set<String> DOWNGRADE_STATUSES = Set.of("unpaid", "canceled", "incomplete_expired", "paused");

  private static final String LINK_CUSTOMER = "UPDATE accounts SET stripe_customer_id = $2, updated_at = now() WHERE id = $1";
  private static final String CACHE_INVOICE = """
      INSERT INTO stripe_invoices (id, account_id, stripe_customer_id, subscription_id, status, billing_reason, amount_due,
                                   amount_paid, currency, hosted_invoice_url, invoice_pdf, period_start, period_end, created, event_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
      ON CONFLICT (id) DO UPDATE SET account_id = coalesce(EXCLUDED.account_id, stripe_invoices.account_id),
        subscription_id = EXCLUDED.subscription_id, status = EXCLUDED.status, billing_reason = EXCLUDED.billing_reason,
        amount_due = EXCLUDED.amount_due, amount_paid = EXCLUDED.amount_paid, currency = EXCLUDED.currency,
        hosted_invoice_url = coalesce(EXCLUDED.hosted_invoice_url, stripe_invoices.hosted_invoice_url),
        invoice_pdf = coalesce(EXCLUDED.invoice_pdf, stripe_invoices.invoice_pdf), period_start = EXCLUDED.period_start,
        period_end = EXCLUDED.period_end, event_at = EXCLUDED.event_at, updated_at = now()
      WHERE stripe_invoices.event_at <= EXCLUDED.event_at
        AND NOT (stripe_invoices.status IN ('paid', 'void') AND EXCLUDED.status NOT IN ('paid', 'void'))
      """;

  private final TollgateConfig config;
  private final AccountStore accounts;
  private final AccountBillingStore billing;
  private final CreditLedger ledger;
  private final AuditLog audit;
  private final PeriodRollover periods;
  private final Admissions admissions;
  private final Notices notices;
  private final AutoTopUp topUps;
  private final Supplier<Future<Void>> announceAccountChange;
  private final Counter meterErrorReports;
  private final Counter meterErrors;
  private final io.vertx.core.Vertx vertx;
  private final Optional<io.tollgate.stripesync.billing.StripeBilling> stripe;
  private final Refunds refunds;

  public BillingEvents(io.vertx.core.Vertx vertx, TollgateConfig config, AccountStore accounts, AccountBillingStore billing,
                       CreditLedger ledger, AuditLog audit, PeriodRollover periods, Admissions admissions, Notices notices,
                       AutoTopUp topUps, Optional<io.tollgate.stripesync.billing.StripeBilling> stripe,
                       Supplier<Future<Void>> announceAccountChange, MeterRegistry registry) {
    this.vertx = vertx;
    this.stripe = stripe;
    this.config = config;
    this.accounts = accounts;
    this.billing = billing;
    this.ledger = ledger;
    this.audit = audit;
    this.periods = periods;
    this.admissions = admissions;
    this.notices = notices;
    this.topUps = topUps;
    this.announceAccountChange = announceAccountChange;
    this.refunds = new Refunds(vertx, stripe, accounts, ledger, audit, notices, admissions);
    this.meterErrorReports = Counter.builder("tollgate_stripe_meter_error_reports")
        .description("Stripe reported meter events it could not accept").register(registry);
    this.meterErrors = Counter.builder("tollgate_stripe_meter_errors").description("Meter event errors counted in Stripe's error reports")
        .register(registry);
  }

  /** Set.of(...).contains(null) throws: an optional Stripe field (a status, a billing reason) may be absent. */
  private static boolean in(Set<String> set, String value) {
    return value != null && set.contains(value);
  }

  @Override
  public Future<Handled> handle(SqlConnection conn, StripeEvent e) {
    return switch (e.type()) {
      case "checkout.session.completed", "checkout.session.async_payment_succeeded" -> checkoutCompleted(conn, e);
      case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
           "customer.subscription.paused", "customer.subscription.resumed" -> subscription(conn, e);
      case "customer.subscription.trial_will_end" -> trialWillEnd(conn, e);
      case "invoice.paid", "invoice.payment_succeeded" -> invoicePaid(conn, e);
      case "invoice.payment_failed" -> invoiceFailed(conn, e);
      case "invoice.finalized", "invoice.voided", "invoice.marked_uncollectible", "invoice.updated" -> invoiceCached(conn, e);
      case "customer.updated" -> customerUpdated(conn, e);
      case "payment_method.attached", "payment_method.detached" -> paymentMethod(conn, e);
      case "billing.meter.error_report_triggered" -> meterErrors(e);
      case "v1.billing.meter.error_report_triggered" -> thinMeterErrors(e);
      case "payment_intent.succeeded", "payment_intent.payment_failed" -> topUps.onPaymentIntent(conn, e);
      case "charge.refunded", "charge.dispute.created" -> refunds.handle(conn, e);
      default -> Future.succeededFuture(Handled.ignored("Tollgate does not act on " + e.type()));
    };
  }

  // ---- finding the account

  /**
   * The account an object belongs to, locked: named by our metadata (or a Checkout
   * {@code client_reference_id}), else found by its Stripe customer. A named account without a
   * customer yet is linked to the event's customer. Empty when nothing points to an account.
   */
  private Future<Optional<Account>> account(SqlConnection conn, Optional<Long> named, String customerId) {
    if (named.isPresent()) {
      long id = named.get();
      return accounts.getForUpdate(conn, id).compose(found -> {
        Account a = found.orElseThrow(() -> new Unprocessable("the event names account " + id + ", which does not exist"));
        if (customerId == null || customerId.equals(a.stripeCustomerId())) {
          return Future.succeededFuture(Optional.of(a));
        }
        if (a.stripeCustomerId() != null) {
          throw new Unprocessable("account " + id + " is linked to Stripe customer " + a.stripeCustomerId()
              + ", but the event is for " + customerId);
        }
        return conn.preparedQuery(LINK_CUSTOMER).execute(Tuple.of(id, customerId))
            .compose(v -> accounts.getForUpdate(conn, id)).map(x -> x);
      });
    }
    if (customerId == null) {
      return Future.succeededFuture(Optional.empty());
    }
    return billing.accountForCustomer(conn, customerId)
        .compose(id -> id.isEmpty() ? Future.succeededFuture(Optional.<Account>empty()) : accounts.getForUpdate(conn, id.get()));
  }

  private static RuntimeException unlinked(String customerId) {
    return new IllegalStateException("no account is linked to Stripe customer " + customerId
        + " yet (it is linked by a Tollgate Checkout session, or by PATCH /admin/v1/accounts/{id} with stripeCustomerId)");
  }

  // ---- checkout

  private Future<Handled> checkoutCompleted(SqlConnection conn, StripeEvent e) {
    JsonObject session = e.object();
    JsonObject meta = metadata(session);
    Optional<Long> named = StripeJson.positive(string(session, "client_reference_id")).or(() -> StripeJson.accountIdIn(meta));
    if (named.isEmpty()) {
      return Future.succeededFuture(Handled.ignored("checkout session " + id(session, "id") + " was not created by Tollgate"));
    }
    String customer = id(session, "customer");
    return account(conn, named, customer).compose(found -> {
      Account account = found.orElseThrow();
      String mode = string(session, "mode");
      if ("subscription".equals(mode)) {
        String sub = id(session, "subscription");
        return billing.lock(conn, account.id()).compose(b -> b.subscriptionId() != null || sub == null ? Future.succeededFuture()
                : billing.save(conn, b.withSubscription(sub, b.subscriptionStatus(), b.subscriptionPrices(), b.cancelAtPeriodEnd(),
                    b.currentPeriodEnd(), b.trialEnd(), b.subscriptionEventAt())))
            .map(v -> Handled.of("customer " + customer + " linked; subscription " + sub + " starts (its plan comes with its own events)",
                account.id()));
      }
      if ("payment".equals(mode) && "credit_pack".equals(string(meta, "tollgate_kind"))) {
        if (!"paid".equals(string(session, "payment_status")) && !"no_payment_required".equals(string(session, "payment_status"))) {
          return Future.succeededFuture(Handled.of("credit pack awaits its payment (payment_status "
              + string(session, "payment_status") + "); checkout.session.async_payment_succeeded grants it", account.id()));
        }
        long credits = StripeJson.positiveCredits(string(meta, "tollgate_credits"))
            .orElseThrow(() -> new Unprocessable("checkout session " + id(session, "id") + " has no positive tollgate_credits metadata (credits, at most 3 decimals)"));
        String pack = string(meta, "tollgate_pack");
        String key = "checkout:" + id(session, "id");
        JsonObject receipt = new JsonObject().put("type", "top_up.receipt").put("accountId", account.id()).put("pack", pack)
            .put("credits", io.tollgate.config.Credits.json(credits)).put("amount", number(session, "amount_total")).put("currency", string(session, "currency"))
            .put("paymentIntent", id(session, "payment_intent")).put("automatic", false);
        Instant bought = Objects.requireNonNullElse(epoch(session, "created"), e.created());
        return refunds.recordPurchase(conn, id(session, "payment_intent"), account.id(), credits, number(session, "amount_total"),
                string(session, "currency"), key)
            .compose(v -> grant(conn, account, credits, "top_up", "credit pack " + pack + " (checkout " + id(session, "id") + ")",
                key, "credit pack " + pack))
            // A receipt for the customer, once per session (the notice is unique on its time): a replay grants nothing and mails nothing.
            .compose(h -> notices.raise(conn, account, "top_up_receipt", 0, bought, receipt.put("checkoutSession", id(session, "id")))
                .map(h));
      }
      return Future.succeededFuture(Handled.of("customer " + customer + " linked (checkout mode " + mode + ")", account.id()));
    });
  }

  /** Records a grant once (by key) and, after the commit, adds it to the hot balance. */
  Future<Handled> grant(SqlConnection conn, Account account, long credits, String kind, String reason, String key, String what) {
    return ledger.record(conn, account.id(), credits, kind, reason, key, ACTOR).map(applied -> applied
        ? new Handled(what + ": " + Credits.format(credits) + " credits granted", account.id(),
            List.of(() -> admissions.addCreditsIfLoaded(account.id(), credits)))
        : Handled.of(what + ": already granted (" + key + ")", account.id()));
  }

  // ---- subscriptions

  private Future<Handled> subscription(SqlConnection conn, StripeEvent e) {
    JsonObject sub = e.object();
    String subId = id(sub, "id");
    boolean deleted = e.type().equals("customer.subscription.deleted");
    String status = deleted ? "canceled" : string(sub, "status");
    if (subId == null || status == null) {
      throw new Unprocessable("the subscription in " + e.type() + " has no " + (subId == null ? "id" : "status"));
    }
    List<String> prices = StripeJson.subscriptionPrices(sub);
    Optional<PlanConfig> catalogPlan = prices.stream().map(config::planForPrice).flatMap(Optional::stream).findFirst();
    Optional<Long> named = StripeJson.accountIdIn(metadata(sub));
    String customer = id(sub, "customer");
    return account(conn, named, customer).compose(found -> {
      if (found.isEmpty()) {
        if (catalogPlan.isEmpty()) {
          return Future.succeededFuture(Handled.ignored("subscription " + subId + " sells no plan of the catalog and its customer "
              + customer + " is not linked to an account"));
        }
        throw unlinked(customer);
      }
      Account account = found.get();
      return billing.lock(conn, account.id()).compose(b -> {
        if (b.subscriptionEventAt() != null && e.created().isBefore(b.subscriptionEventAt())) {
          return Future.succeededFuture(Handled.ignored("older than the subscription state already applied (from "
              + b.subscriptionEventAt() + ")"));
        }
        if (b.subscriptionId() != null && !b.subscriptionId().equals(subId) && (!AccountBilling.live(status))) {
          return Future.succeededFuture(Handled.ignored("subscription " + subId + " is " + status + "; the account follows "
              + b.subscriptionId()));
        }
        if (subId.equals(b.subscriptionId()) && "canceled".equals(b.subscriptionStatus()) && !deleted) {
          return Future.succeededFuture(Handled.ignored("subscription " + subId + " is already canceled"));
        }
        return applySubscription(conn, e, account, b, subId, status, prices, catalogPlan);
      });
    });
  }

  private Future<Handled> applySubscription(SqlConnection conn, StripeEvent e, Account account, AccountBilling b, String subId,
                                            String status, List<String> prices, Optional<PlanConfig> catalogPlan) {
    JsonObject sub = e.object();
    String plan = account.plan();
    String accountStatus = account.status();
    Instant grace = b.graceUntil();
    String free = TollgateConfig.freePlanName();
    if (in(DOWNGRADE_STATUSES, status)) {
      plan = free;
      accountStatus = AccountStatus.ACTIVE.dbValue();
      grace = null;
    } else if (AccountBilling.live(status)) {
      PlanConfig p = catalogPlan.orElseThrow(() -> new Unprocessable("subscription " + subId + " holds no price of the plan catalog "
          + prices + "; add one to a plan's stripePrices, then replay this event"));
      boolean graceOver = grace != null && !grace.isAfter(e.created()) && "past_due".equals(status);
      if ("past_due".equals(status)) {
        if (graceOver || (grace != null && free.equals(account.plan()) && AccountStatus.ACTIVE.dbValue().equals(account.status()))) {
          // Already moved to the free plan when the grace period ended; a paid invoice restores the plan.
          plan = account.plan();
          accountStatus = account.status();
        } else {
          plan = p.name();
          accountStatus = AccountStatus.PAST_DUE.dbValue();
          grace = grace != null ? grace : e.created().plus(config.billing().gracePeriod());
        }
      } else {
        plan = p.name();
        accountStatus = status;
        grace = null;
      }
    }
    AccountBilling after = b.withSubscription(subId, status, prices, Boolean.TRUE.equals(sub.getValue("cancel_at_period_end")),
        StripeJson.subscriptionPeriodEnd(sub), epoch(sub, "trial_end"), e.created()).withGraceUntil(grace);
    String outcome = "subscription " + subId + " " + status + ": plan " + plan + ", account " + accountStatus
        + (after.cancelAtPeriodEnd() ? ", cancels at period end" : "");
    String newPlan = plan;
    String newStatus = accountStatus;
    return billing.save(conn, after).compose(v -> changeAccount(conn, account, newPlan, newStatus, "subscription " + subId + " " + status))
        .map(changed -> changed ? new Handled(outcome, account.id(), List.of(announceAccountChange::get)) : Handled.of(outcome, account.id()));
  }

  /** Moves an account's plan and status, audited; true if anything changed. */
  Future<Boolean> changeAccount(SqlConnection conn, Account account, String plan, String status, String why) {
    if (plan.equals(account.plan()) && status.equals(account.status())) {
      return Future.succeededFuture(false);
    }
    Account changed = account.withPlanAndStatus(plan, status);
    log.info("account {}: plan {} → {}, status {} → {} ({})", account.id(), account.plan(), plan, account.status(), status, why);
    return accounts.update(conn, changed).compose(updated -> audit.record(conn, ACTOR, "account.billing_change", "account",
        Long.toString(account.id()), null, account.toJson(), updated.toJson().put("reason", why))).map(true);
  }

  private Future<Handled> trialWillEnd(SqlConnection conn, StripeEvent e) {
    JsonObject sub = e.object();
    return account(conn, StripeJson.accountIdIn(metadata(sub)), id(sub, "customer")).compose(found -> {
      if (found.isEmpty()) {
        return Future.succeededFuture(Handled.ignored("customer " + id(sub, "customer") + " is not linked to an account"));
      }
      Account account = found.get();
      Instant trialEnd = Objects.requireNonNullElse(epoch(sub, "trial_end"), e.created());
      JsonObject payload = new JsonObject().put("type", "subscription.trial_will_end").put("accountId", account.id())
          .put("subscriptionId", id(sub, "id")).put("trialEnd", trialEnd.toString()).put("plan", account.plan());
      return notices.raise(conn, account, "trial_will_end", 0, trialEnd, payload)
          .map(created -> Handled.of("trial of " + id(sub, "id") + " ends " + trialEnd + (created ? ": account notified" : ": already notified"),
              account.id()));
    });
  }

  // ---- invoices

  /** The invoice's account, or empty; an invoice with a catalog price and no account is retried (its link may come later). */
  private Future<Optional<Account>> invoiceAccount(SqlConnection conn, JsonObject invoice) {
    String customer = id(invoice, "customer");
    return account(conn, StripeJson.accountIdIn(StripeJson.invoiceSubscriptionMetadata(invoice)).or(() -> StripeJson.accountIdIn(metadata(invoice))),
        customer);
  }

  private boolean sellsCatalog(JsonObject invoice) {
    return StripeJson.data(object(invoice, "lines")).stream().map(StripeJson::linePrice).filter(Objects::nonNull)
        .anyMatch(p -> config.planForPrice(p).isPresent());
  }

  /** Caches the event's invoice (not written when a newer state is stored); false if not written. */
  private Future<Boolean> cache(SqlConnection conn, StripeEvent e, Long accountId) {
    JsonObject inv = e.object();
    String customer = id(inv, "customer");
    if (customer == null) {
      return Future.succeededFuture(false);
    }
    InvoiceInfo info = new InvoiceInfo(id(inv, "id"), string(inv, "status"), number(inv, "amount_due"), number(inv, "amount_paid"),
        string(inv, "currency"), string(inv, "hosted_invoice_url"), string(inv, "invoice_pdf"), epoch(inv, "created"),
        epoch(inv, "period_start"), epoch(inv, "period_end"), StripeJson.invoiceSubscription(inv), string(inv, "billing_reason"));
    return cacheInvoice(conn, info, accountId, customer, e.created());
  }

  /**
   * Caches an invoice as known at {@code at} (the event's time, or when the Stripe API listed it):
   * it replaces only an older state, and never moves a paid or void invoice back. False if not written.
   */
  public static Future<Boolean> cacheInvoice(SqlClient sql, InvoiceInfo inv, Long accountId, String customerId, Instant at) {
    return sql.preparedQuery(CACHE_INVOICE).execute(Tuple.from(java.util.Arrays.asList(inv.id(), accountId, customerId,
        inv.subscriptionId(), Objects.requireNonNullElse(inv.status(), "draft"), inv.billingReason(), inv.amountDue(), inv.amountPaid(),
        Objects.requireNonNullElse(inv.currency(), "usd"), inv.hostedInvoiceUrl(), inv.invoicePdf(), utc(inv.periodStart()),
        utc(inv.periodEnd()), utc(Objects.requireNonNullElse(inv.created(), at)), utc(at)))).map(rows -> rows.rowCount() == 1);
  }

  private Future<Handled> invoiceCached(SqlConnection conn, StripeEvent e) {
    return invoiceAccount(conn, e.object()).compose(found -> cache(conn, e, found.map(Account::id).orElse(null))
        .map(written -> Handled.of("invoice " + id(e.object(), "id") + (written ? " cached (" + string(e.object(), "status") + ")"
            : " not cached: a newer state is already stored"), found.map(Account::id).orElse(null))));
  }

  /**
   * Runs {@code then} with the invoice's account, locked. Without one, an invoice selling a plan of
   * the catalog is retried (its customer's link may come with a later event); any other is only
   * cached (another product on the same Stripe account, say).
   */
  private Future<Handled> onInvoiceAccount(SqlConnection conn, StripeEvent e, java.util.function.Function<Account, Future<Handled>> then) {
    return invoiceAccount(conn, e.object()).compose(found -> {
      if (found.isPresent()) {
        return then.apply(found.get());
      }
      if (sellsCatalog(e.object())) {
        throw unlinked(id(e.object(), "customer"));
      }
      return invoiceCached(conn, e);
    });
  }

  private Future<Handled> invoicePaid(SqlConnection conn, StripeEvent e) {
    JsonObject inv = e.object();
    String invoiceId = id(inv, "id");
    String subId = StripeJson.invoiceSubscription(inv);
    return onInvoiceAccount(conn, e, account -> {
      String reason = string(inv, "billing_reason");
      if (subId == null || !(in(CYCLE_REASONS, reason) || "subscription_update".equals(reason))) {
        return cache(conn, e, account.id()).map(w -> Handled.of("invoice " + invoiceId + " cached (no period credits: billing reason "
            + reason + ")", account.id()));
      }
      List<JsonObject> planLines = StripeJson.data(object(inv, "lines")).stream()
          .filter(l -> StripeJson.linePrice(l) != null && config.planForPrice(StripeJson.linePrice(l)).isPresent()).toList();
      // A plan change's invoice carries both plans' prices: a credit for the old one's unused time (a negative line) and
      // a charge for the new one's remaining time. The plan it pays for is the charged one.
      Optional<JsonObject> line = "subscription_update".equals(reason)
          ? planLines.stream().filter(l -> number(l, "amount") > 0).findFirst().or(() -> planLines.stream().reduce((a, b) -> b))
          : planLines.stream().findFirst();
      if (line.isEmpty()) {
        return cache(conn, e, account.id()).map(w -> Handled.of("invoice " + invoiceId + " cached (no plan price on it)", account.id()));
      }
      PlanConfig plan = config.planForPrice(StripeJson.linePrice(line.get())).orElseThrow();
      JsonObject period = object(line.get(), "period");
      Instant start = epoch(period, "start");
      Instant end = epoch(period, "end");
      if (start == null || end == null || !end.isAfter(start)) {
        throw new Unprocessable("invoice " + invoiceId + " has no line period for plan " + plan.name());
      }
      String price = StripeJson.linePrice(line.get());
      return cache(conn, e, account.id()).compose(w -> billing.lock(conn, account.id())).compose(b -> {
        if (stripe.isPresent() && (unknownSubscription(b, subId) || movedFrom(b, subId, price))) {
          // Stripe does not order deliveries: the subscription's own event may come later, or never. Its state now is asked for.
          return fetchSubscription(conn, e, subId)
              .compose(applied -> accounts.getForUpdate(conn, account.id()).map(Optional::orElseThrow)
                  .compose(now -> billing.lock(conn, now.id()).compose(after -> paid(conn, e, now, after, plan, price, invoiceId, subId,
                      reason, start, end)))
                  .map(h -> new Handled(applied.outcome() + "; " + h.outcome(), h.accountId(),
                      concatAll(applied.afterCommit(), h.afterCommit()))));
        }
        return paid(conn, e, account, b, plan, price, invoiceId, subId, reason, start, end);
      });
    });
  }

  /** No local state of this subscription: none applied yet, or only an ended one the invoice's subscription replaces. */
  private static boolean unknownSubscription(AccountBilling b, String subId) {
    return b.subscriptionId() == null || (!b.subscriptionId().equals(subId) && !AccountBilling.live(b.subscriptionStatus()));
  }

  /**
   * The invoice bills a price the account's subscription no longer holds, as far as its events told:
   * a plan change's invoice that came before the subscription's update, or an invoice of the plan
   * before the change that came after it. Stripe's state now decides which.
   */
  private static boolean movedFrom(AccountBilling b, String subId, String price) {
    return subId.equals(b.subscriptionId()) && !b.subscriptionPrices().isEmpty() && !b.subscriptionPrices().contains(price);
  }

  /**
   * Applies the subscription as Stripe holds it now, as of the event that needed it: a subscription
   * event created after that one still applies, an earlier one (older news) is ignored.
   */
  private Future<Handled> fetchSubscription(SqlConnection conn, StripeEvent cause, String subId) {
    io.tollgate.stripesync.billing.StripeBilling client = stripe.orElseThrow();
    return vertx.executeBlocking(() -> client.retrieveSubscription(subId), false).compose(info -> {
      io.vertx.core.json.JsonArray items = new io.vertx.core.json.JsonArray();
      info.priceIds().forEach(p -> items.add(new JsonObject().put("object", "subscription_item").put("price", p)
          .put("current_period_start", info.currentPeriodStart() == null ? null : info.currentPeriodStart().getEpochSecond())
          .put("current_period_end", info.currentPeriodEnd() == null ? null : info.currentPeriodEnd().getEpochSecond())));
      JsonObject sub = new JsonObject().put("id", info.id()).put("object", "subscription").put("customer", info.customerId())
          .put("status", info.status()).put("cancel_at_period_end", info.cancelAtPeriodEnd())
          .put("trial_end", info.trialEnd() == null ? null : info.trialEnd().getEpochSecond())
          .put("items", new JsonObject().put("object", "list").put("data", items));
      StripeEvent fetched = new StripeEvent(cause.id(), "customer.subscription.updated", cause.created(), cause.livemode(), sub,
          new JsonObject(), cause.payload());
      return subscription(conn, fetched).map(h -> new Handled("subscription " + subId + " fetched from Stripe: " + h.outcome(),
          h.accountId(), h.afterCommit()));
    });
  }

  private Future<Handled> paid(SqlConnection conn, StripeEvent e, Account account, AccountBilling b, PlanConfig plan, String price,
                               String invoiceId, String subId, String reason, Instant start, Instant end) {
    if (b.subscriptionId() != null && !b.subscriptionId().equals(subId)) {
      return Future.succeededFuture(Handled.of("invoice " + invoiceId + " cached; it bills " + subId + " but the account follows "
          + b.subscriptionId(), account.id()));
    }
    if (movedFrom(b, subId, price)) {
      // A late invoice of the plan before a change must not bring that plan back.
      return Future.succeededFuture(Handled.of("invoice " + invoiceId + " cached; it bills " + price + " (plan " + plan.name()
          + "), which subscription " + subId + " no longer holds " + b.subscriptionPrices(), account.id()));
    }
    if ("canceled".equals(b.subscriptionStatus()) || in(DOWNGRADE_STATUSES, b.subscriptionStatus())) {
      return Future.succeededFuture(Handled.of("invoice " + invoiceId + " cached; subscription " + subId + " is "
          + b.subscriptionStatus(), account.id()));
    }
    boolean stale = start.isBefore(account.periodStart()) && in(CYCLE_REASONS, reason);
    if (stale) {
      return Future.succeededFuture(Handled.of("invoice " + invoiceId + " is for an earlier period (" + start + "); cached",
          account.id()));
    }
    // Paid: the subscription is in good standing (a late payment lifts the grace period or a downgrade).
    AccountBilling restored = b.withGraceUntil(null);
    if (b.subscriptionId() == null || b.subscriptionStatus() == null || "past_due".equals(b.subscriptionStatus())) {
      Instant at = b.subscriptionEventAt() == null || e.created().isAfter(b.subscriptionEventAt()) ? e.created() : b.subscriptionEventAt();
      restored = restored.withSubscription(subId, "active", b.subscriptionPrices(), b.cancelAtPeriodEnd(), b.currentPeriodEnd(),
          b.trialEnd(), b.subscriptionId() == null ? b.subscriptionEventAt() : at);
    }
    String status = (AccountStatus.of(account.status()) == AccountStatus.TRIALING ? AccountStatus.TRIALING : AccountStatus.ACTIVE).dbValue();
    AccountBilling save = restored;
    return billing.save(conn, save).compose(v -> changeAccount(conn, account, plan.name(), status, "invoice " + invoiceId + " paid"))
        .compose(changed -> accounts.getForUpdate(conn, account.id()).compose(now -> credit(conn, now.orElseThrow(), plan, invoiceId,
            reason, start, end)).map(h -> changed
            ? new Handled(h.outcome(), h.accountId(), concat(h.afterCommit(), announceAccountChange::get)) : h));
  }

  private Future<Handled> credit(SqlConnection conn, Account account, PlanConfig plan, String invoiceId, String reason, Instant start,
                                 Instant end) {
    if (in(CYCLE_REASONS, reason) && start.isAfter(account.periodStart())) {
      return periods.advance(conn, account, start, start, end, plan, invoiceId).map(rolled -> new Handled("invoice " + invoiceId
          + " paid: period " + start + " – " + end + ", " + Credits.format(rolled.granted()) + " included credits granted, "
          + Credits.format(rolled.expired())
          + " lapsed", account.id(), List.of(() -> periods.applyToRedis(rolled))));
    }
    return periods.grantIncluded(conn, account, plan, invoiceId).map(granted -> granted > 0
        ? new Handled("invoice " + invoiceId + " paid: " + Credits.format(granted) + " included credits of plan " + plan.name() + " granted",
            account.id(), List.of(() -> admissions.addCreditsIfLoaded(account.id(), granted)))
        : Handled.of("invoice " + invoiceId + " paid: the period's credits were already granted", account.id()));
  }

  private static List<Supplier<Future<?>>> concatAll(List<Supplier<Future<?>>> a, List<Supplier<Future<?>>> b) {
    List<Supplier<Future<?>>> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  private static List<Supplier<Future<?>>> concat(List<Supplier<Future<?>>> a, Supplier<Future<?>> b) {
    List<Supplier<Future<?>>> out = new ArrayList<>(a);
    out.add(b);
    return out;
  }

  private Future<Handled> invoiceFailed(SqlConnection conn, StripeEvent e) {
    JsonObject inv = e.object();
    String invoiceId = id(inv, "id");
    String subId = StripeJson.invoiceSubscription(inv);
    return onInvoiceAccount(conn, e, account -> {
      return cache(conn, e, account.id()).compose(written -> {
        if (!written) {
          // The invoice was paid (or voided) since, or a newer event about it was applied: this failure is old news.
          return Future.succeededFuture(Handled.ignored("invoice " + invoiceId + " has a newer stored state than this failure"));
        }
        return billing.lock(conn, account.id()).compose(b -> failed(conn, e, account, b, invoiceId, subId));
      });
    });
  }

  private Future<Handled> failed(SqlConnection conn, StripeEvent e, Account account, AccountBilling b, String invoiceId, String subId) {
    JsonObject inv = e.object();
    if (subId == null || (b.subscriptionId() != null && !b.subscriptionId().equals(subId))) {
      return Future.succeededFuture(Handled.of("invoice " + invoiceId + " payment failed; cached (not the account's subscription)",
          account.id()));
    }
    if (TollgateConfig.freePlanName().equals(account.plan()) || "canceled".equals(b.subscriptionStatus())) {
      return Future.succeededFuture(Handled.of("invoice " + invoiceId + " payment failed; account already on the free plan",
          account.id()));
    }
    Instant grace = b.graceUntil() != null ? b.graceUntil() : e.created().plus(config.billing().gracePeriod());
    JsonObject payload = new JsonObject().put("type", "invoice.payment_failed").put("accountId", account.id())
        .put("invoiceId", invoiceId).put("amountDue", number(inv, "amount_due")).put("currency", string(inv, "currency"))
        .put("attempt", number(inv, "attempt_count")).put("hostedInvoiceUrl", string(inv, "hosted_invoice_url"))
        .put("graceUntil", grace.toString()).put("plan", account.plan());
    Instant invoiceCreated = Objects.requireNonNullElse(epoch(inv, "created"), e.created());
    return billing.save(conn, b.withGraceUntil(grace))
        .compose(v -> changeAccount(conn, account, account.plan(), AccountStatus.PAST_DUE.dbValue(), "invoice " + invoiceId + " payment failed"))
        .compose(changed -> notices.raise(conn, account, "payment_failed", (int) Math.min(1_000, number(inv, "attempt_count")),
                invoiceCreated, payload)
            .map(n -> new Handled("invoice " + invoiceId + " payment failed: past due, plan " + account.plan() + " kept until "
                + grace, account.id(), changed ? List.of(announceAccountChange::get) : List.of())));
  }

  // ---- customers and payment methods

  private Future<Handled> customerUpdated(SqlConnection conn, StripeEvent e) {
    JsonObject customer = e.object();
    return account(conn, StripeJson.accountIdIn(metadata(customer)), id(customer, "id")).compose(found -> {
      if (found.isEmpty()) {
        return Future.succeededFuture(Handled.ignored("customer " + id(customer, "id") + " is not linked to an account"));
      }
      Account account = found.get();
      return billing.lock(conn, account.id()).compose(b -> {
        if (b.paymentMethodEventAt() != null && e.created().isBefore(b.paymentMethodEventAt())) {
          return Future.succeededFuture(Handled.ignored("older than the customer state already applied"));
        }
        String pm = id(object(customer, "invoice_settings"), "default_payment_method");
        AccountBilling after = b.withEmail(string(customer, "email"));
        after = pm != null ? after.withPaymentMethod(pm, e.created()) : after;
        AccountBilling saved = after;
        return billing.save(conn, saved).map(v -> Handled.of("customer details updated" + (pm == null ? ""
            : ", default payment method " + pm) + (b.autoTopUpPaused() && !saved.autoTopUpPaused() ? ", auto top-up resumed" : ""),
            account.id()));
      });
    });
  }

  private Future<Handled> paymentMethod(SqlConnection conn, StripeEvent e) {
    JsonObject pm = e.object();
    String pmId = id(pm, "id");
    if (pmId == null) {
      throw new Unprocessable("the payment method in " + e.type() + " has no id");
    }
    boolean attached = e.type().equals("payment_method.attached");
    String customer = attached ? id(pm, "customer") : id(e.previousAttributes(), "customer");
    return account(conn, Optional.empty(), customer).compose(found -> {
      if (found.isEmpty()) {
        return Future.succeededFuture(Handled.ignored("customer " + customer + " is not linked to an account"));
      }
      Account account = found.get();
      return billing.lock(conn, account.id()).compose(b -> {
        if (b.paymentMethodEventAt() != null && e.created().isBefore(b.paymentMethodEventAt())) {
          return Future.succeededFuture(Handled.ignored("older than the payment method state already applied"));
        }
        if (attached && b.defaultPaymentMethod() == null) {
          return billing.save(conn, b.withPaymentMethod(pmId, e.created()))
              .map(v -> Handled.of("payment method " + pmId + " attached and used for auto top-up", account.id()));
        }
        if (!attached && pmId.equals(b.defaultPaymentMethod())) {
          AccountBilling cleared = b.withPaymentMethod(null, e.created());
          return billing.save(conn, cleared).map(v -> Handled.of("payment method " + pmId + " detached; auto top-up has no card until "
              + "another is attached", account.id()));
        }
        return Future.succeededFuture(Handled.of("payment method " + pmId + (attached ? " attached" : " detached")
            + "; default unchanged", account.id()));
      });
    });
  }

  /**
   * Stripe sends meter error reports as v2 "thin" events: a pointer without the counts. The
   * full event is fetched (it needs {@code STRIPE_API_KEY}); without it the report is still
   * counted and logged, its counts unknown. A failed fetch is retried like any failure.
   */
  private Future<Handled> thinMeterErrors(StripeEvent e) {
    if (e.object().containsKey("reason") || stripe.isEmpty()) {
      return meterErrors(e);
    }
    io.tollgate.stripesync.billing.StripeBilling client = stripe.get();
    return vertx.executeBlocking(() -> client.retrieveEventJson(e.id()), false)
        .compose(json -> meterErrors(StripeEvent.from(new JsonObject(json))));
  }

  private Future<Handled> meterErrors(StripeEvent e) {
    JsonObject report = e.object();
    JsonObject reason = object(report, "reason");
    long errors = number(reason, "error_count");
    List<String> codes = new ArrayList<>();
    if (reason.getValue("error_types") instanceof io.vertx.core.json.JsonArray types) {
      types.forEach(t -> {
        if (t instanceof JsonObject j && string(j, "code") != null) {
          codes.add(string(j, "code") + " ×" + number(j, "error_count"));
        }
      });
    }
    String meter = id(object(report, "meter"), "id") != null ? id(object(report, "meter"), "id")
        : id(report, "meter") != null ? id(report, "meter") : id(object(report, "related_object"), "id");
    meterErrorReports.increment();
    meterErrors.increment(errors);
    boolean known = reason.containsKey("error_count");
    log.error("Stripe reports {} meter event error(s) for meter {}: {} — check the customers and meter in Stripe",
        known ? errors : "an unknown number of (set STRIPE_API_KEY to read the report)", meter, codes);
    return Future.succeededFuture(Handled.of("meter " + meter + ": " + (known ? errors + " error(s) " + codes
        : "error report received; its counts need STRIPE_API_KEY to fetch"), null));
  }

}
