package io.tollgate.stripesync.billing;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * The Stripe calls behind customers, plans and credits, in Tollgate's own terms, so nothing outside
 * this package sees stripe-java's types. Every method blocks on the network: call it from a worker
 * ({@code vertx.executeBlocking}), never from an event loop. Every call that creates something takes
 * an idempotency key: the same key always yields the same object, so a caller can retry a call whose
 * answer it never saw without creating a second customer, session or charge. Keys should be derived
 * from what the call is for (the account, the top-up), not random.
 */
public interface StripeBilling {

  /**
   * Creates the Stripe customer for an account, tagged with metadata {@code tollgate_account_id}.
   *
   * @param email may be {@code null}
   * @return the customer id ({@code cus_...})
   */
  String createCustomer(long accountId, String name, String email, String idempotencyKey) throws BillingFailure;

  /**
   * Opens a Checkout session: a subscription to plan prices, or a one-off payment whose card is kept
   * for later off-session charges (auto top-up).
   */
  CheckoutLink createCheckoutSession(CheckoutRequest request) throws BillingFailure;

  /** Opens a billing portal session for the customer to manage cards, plan and invoices; returns its URL. */
  String createPortalSession(String customerId, String returnUrl, String idempotencyKey) throws BillingFailure;

  /** The customer's most recent invoices, newest first, at most {@code limit} (1-100). */
  List<InvoiceInfo> listInvoices(String customerId, int limit) throws BillingFailure;

  /**
   * Charges a saved card without the customer present (an auto top-up).
   *
   * @param paymentMethodId the card to charge, or {@code null} for the customer's
   *                        {@code invoice_settings.default_payment_method}
   * @param amount          in the currency's smallest unit (cents)
   * @throws BillingFailure {@link BillingFailure.Kind#CARD_DECLINED} when the card is declined,
   *                        {@link BillingFailure.Kind#AUTHENTICATION_REQUIRED} when the bank wants the customer
   *                        present, {@link BillingFailure.Kind#PERMANENT} with code {@code no_default_payment_method}
   *                        when no card was given and the customer has no default one
   */
  PaymentResult chargeOffSession(String customerId, String paymentMethodId, long amount, String currency,
                                 Map<String, String> metadata, String idempotencyKey) throws BillingFailure;

  /** The subscription as Stripe holds it now (for reconciling after missed or out-of-order webhooks). */
  SubscriptionInfo retrieveSubscription(String subscriptionId) throws BillingFailure;

  /**
   * The customer's subscriptions that still entitle to a plan (trialing, active, past_due), newest
   * first: the guard against a second live subscription for one account asks this.
   */
  List<SubscriptionInfo> liveSubscriptions(String customerId) throws BillingFailure;

  /**
   * Previews moving the subscription to {@code prices} (the first is the plan's base fee, with a
   * quantity; the others are metered): Stripe's invoice preview with every item that is not among
   * them removed and every new one added, prorated at {@code prorationDate} and invoiced at once.
   */
  PlanChangePreview previewPriceChange(String subscriptionId, List<CheckoutRequest.LineItem> prices, Instant prorationDate)
      throws BillingFailure;

  /**
   * Moves the subscription to {@code prices} as {@link #previewPriceChange} previewed it: prorated at
   * {@code prorationDate}, the prorations invoiced and charged at once, and the whole update refused
   * (nothing changes) when that payment fails ({@code payment_behavior=error_if_incomplete}).
   *
   * @throws BillingFailure {@link BillingFailure.Kind#CARD_DECLINED} when the card is declined
   */
  SubscriptionInfo changePrices(String subscriptionId, List<CheckoutRequest.LineItem> prices, Instant prorationDate,
                                String idempotencyKey) throws BillingFailure;

  /** Schedules the subscription to end at the end of its period ({@code true}), or takes that back ({@code false}). */
  SubscriptionInfo cancelAtPeriodEnd(String subscriptionId, boolean cancel, String idempotencyKey) throws BillingFailure;

  /**
   * The invoice a PaymentIntent paid (Stripe's invoice payments, {@code GET /v1/invoice_payments}):
   * since API version 2025-03-31 a charge no longer names its invoice. Empty when it paid none.
   */
  java.util.Optional<String> invoiceOfPayment(String paymentIntentId) throws BillingFailure;

  /** A price as Stripe holds it now: its amount, currency and interval. */
  PriceInfo retrievePrice(String priceId) throws BillingFailure;

  /**
   * The full JSON of a v2 event by id: a "thin" event delivered to a webhook carries only its type
   * and a pointer, and its data (a meter error report's counts, say) is fetched with this.
   */
  String retrieveEventJson(String eventId) throws BillingFailure;
}
