package io.tollgate.stripesync.webhooks;

/** A delivery that is not a genuine, fresh Stripe event; the message says what was wrong and never holds a secret. */
public final class WebhookRejected extends Exception {

  /** What was wrong, as a metrics label. */
  public enum Reason {
    MISSING_SIGNATURE, BAD_SIGNATURE, EXPIRED, MALFORMED_EVENT
  }

  private final Reason reason;

  public WebhookRejected(Reason reason, String message) {
    super(message, null, false, false);
    this.reason = reason;
  }

  public Reason reason() {
    return reason;
  }
}
