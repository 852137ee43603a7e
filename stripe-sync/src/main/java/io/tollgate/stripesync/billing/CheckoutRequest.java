package io.tollgate.stripesync.billing;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Stripe Checkout session to open for an account.
 *
 * @param customerId     the account's Stripe customer
 * @param items          what is bought: plan prices for a subscription, a credit pack's price for a payment
 * @param accountId      Tollgate's account id, sent as {@code client_reference_id} and {@code tollgate_account_id} metadata
 * @param metadata       more metadata for the session and the subscription or PaymentIntent it creates
 * @param trialDays      free trial days for a subscription, or {@code null}
 * @param idempotencyKey the same key returns the same session, however often the call is retried
 */
public record CheckoutRequest(String customerId, Mode mode, List<LineItem> items, String successUrl, String cancelUrl,
                              long accountId, Map<String, String> metadata, Integer trialDays, String idempotencyKey) {

  /** What the session sells. */
  public enum Mode {
    /** A plan: Stripe creates a subscription when the customer pays. */
    SUBSCRIPTION,
    /** A one-off payment (a credit pack); the card is saved for later off-session top-ups. */
    PAYMENT
  }

  /**
   * One price in the session.
   *
   * @param quantity {@code null} for a metered price, which has no quantity; otherwise at least 1
   */
  public record LineItem(String priceId, Long quantity) {
    public LineItem {
      Objects.requireNonNull(priceId, "priceId");
    }
  }

  public CheckoutRequest {
    Objects.requireNonNull(customerId, "customerId");
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(idempotencyKey, "idempotencyKey");
    items = List.copyOf(items);
    if (items.isEmpty()) {
      throw new IllegalArgumentException("a checkout session needs at least one line item");
    }
    metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    if (trialDays != null && mode != Mode.SUBSCRIPTION) {
      throw new IllegalArgumentException("trial days only apply to subscriptions");
    }
  }
}
