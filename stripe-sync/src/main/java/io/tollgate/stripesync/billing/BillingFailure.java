package io.tollgate.stripesync.billing;

import java.util.Optional;

/**
 * Why a billing call to Stripe failed, sorted by what the caller should do about it. The message
 * names the call and Stripe's answer; it never holds an API key (Stripe's own texts are scrubbed of
 * anything that looks like one), and no stripe-java exception is attached as the cause, so logging
 * the whole chain is safe too.
 */
public final class BillingFailure extends Exception {

  /** What the caller should do about it. */
  public enum Kind {
    /** 5xx, 409, timeout, connection error, or Stripe refusing our key (a configuration problem): retry later. */
    TRANSIENT,
    /** 429: Stripe's rate limit; slow down and retry later. */
    RATE_LIMITED,
    /** The request is wrong and will stay wrong (no such customer or price, bad parameter): do not retry as is. */
    PERMANENT,
    /** The card was declined ({@link #declineCode()} says why, e.g. insufficient_funds). */
    CARD_DECLINED,
    /** The bank wants the customer present (3-D Secure): an off-session charge cannot succeed; ask the customer to pay. */
    AUTHENTICATION_REQUIRED
  }

  private final Kind kind;
  private final Integer status;
  private final String code;
  private final String declineCode;
  private final String paymentIntentId;

  public BillingFailure(Kind kind, String message, Integer status, String code, String declineCode, String paymentIntentId,
                        Throwable cause) {
    super(message, cause);
    this.kind = kind;
    this.status = status;
    this.code = code;
    this.declineCode = declineCode;
    this.paymentIntentId = paymentIntentId;
  }

  public Kind kind() {
    return kind;
  }

  /** The HTTP status Stripe answered, if it answered. */
  public Optional<Integer> status() {
    return Optional.ofNullable(status);
  }

  /** Stripe's error code ({@code card_declined}, {@code resource_missing}, {@code rate_limit}, ...), if it gave one. */
  public Optional<String> code() {
    return Optional.ofNullable(code);
  }

  /** The issuer's reason for a declined card ({@code insufficient_funds}, {@code generic_decline}, ...). */
  public Optional<String> declineCode() {
    return Optional.ofNullable(declineCode);
  }

  /** The PaymentIntent a failed charge left behind, when Stripe returned one. */
  public Optional<String> paymentIntentId() {
    return Optional.ofNullable(paymentIntentId);
  }

  /** Worth trying the same call again later (with the same idempotency key). */
  public boolean retryable() {
    return kind == Kind.TRANSIENT || kind == Kind.RATE_LIMITED;
  }
}
