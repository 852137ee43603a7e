package io.tollgate.metering;

/**
 * A domain operation refused for a reason the caller can fix: what it names does not exist, it
 * conflicts with the current state, or a value is invalid. The HTTP edge maps the kind to a
 * status; the message is written for the caller and never holds a secret.
 */
public final class Refusal extends RuntimeException {

  /** Why the operation was refused. */
  public enum Kind { NOT_FOUND, CONFLICT, INVALID }

  private final Kind kind;
  private final String field;

  private Refusal(Kind kind, String field, String message) {
    super(message, null, false, false);
    this.kind = kind;
    this.field = field;
  }

  /** {@code "<what> not found"}. */
  public static Refusal notFound(String what) {
    return new Refusal(Kind.NOT_FOUND, null, what + " not found");
  }

  public static Refusal conflict(String message) {
    return new Refusal(Kind.CONFLICT, null, message);
  }

  /** {@code "'<field>' <problem>"}: a value the caller sent is not acceptable. */
  public static Refusal invalid(String field, String problem) {
    return new Refusal(Kind.INVALID, field, "'" + field + "' " + problem);
  }

  public Kind kind() {
    return kind;
  }

  /** The field at fault, for {@link Kind#INVALID}; null otherwise. */
  public String field() {
    return field;
  }
}
