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
 * @param trial          a free trial for a subscription, or {@code null}
 * @param idempotencyKey the same key returns the same session, however often the call is retried
 */
public record CheckoutRequest(String customerId, Mode mode, List<LineItem> items, String successUrl, String cancelUrl,
                              long accountId, Map<String, String> metadata, Trial trial, String idempotencyKey) {

  /** What the session sells. */
  public enum Mode {
    /** A plan: Stripe creates a subscription when the customer pays. */
    SUBSCRIPTION,
    /** A one-off payment (a credit pack); the card is saved for later off-session top-ups. */
    PAYMENT
  }

  /**
   * A free trial before the subscription's first charge.
   *
   * @param days        trial length, 1 to 730 (Stripe's limit)
   * @param withoutCard Checkout asks for no payment method ({@code payment_method_collection: if_required}); when the
   *                    trial ends without one, Stripe applies {@code onMissingPaymentMethod}
   * @param onMissingPaymentMethod what Stripe does with a trial that ends without a payment method; {@code null} when
   *                    a card is collected
   */
  public record Trial(int days, boolean withoutCard, MissingPaymentMethod onMissingPaymentMethod) {
    public Trial {
      if (days < 1 || days > 730) {
        throw new IllegalArgumentException("trial days must be 1 to 730, got " + days);
      }
      if (withoutCard && onMissingPaymentMethod == null) {
        throw new IllegalArgumentException("a trial without a card needs an end behavior for a missing payment method");
      }
      if (!withoutCard) {
        onMissingPaymentMethod = null;
      }
    }

    /** A trial for which Checkout collects a card, charged when the trial ends. */
    public static Trial withCard(int days) {
      return new Trial(days, false, null);
    }
  }

  /** Stripe's {@code trial_settings.end_behavior.missing_payment_method} for a trial without a card. */
  public enum MissingPaymentMethod {
    /** The subscription is canceled when the trial ends. */
    CANCEL,
    /** The subscription is paused until a payment method is added. */
    PAUSE
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
    if (trial != null && mode != Mode.SUBSCRIPTION) {
      throw new IllegalArgumentException("trials only apply to subscriptions");
    }
  }
}
