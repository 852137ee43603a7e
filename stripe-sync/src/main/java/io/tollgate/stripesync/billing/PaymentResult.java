package io.tollgate.stripesync.billing;

/**
 * The PaymentIntent an off-session charge created.
 *
 * @param status Stripe's status: {@code succeeded} normally; {@code processing} for slower methods
 */
public record PaymentResult(String paymentIntentId, String status) {

  public boolean succeeded() {
    return "succeeded".equals(status);
  }
}
