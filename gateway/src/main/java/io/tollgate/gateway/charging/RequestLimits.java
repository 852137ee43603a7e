package io.tollgate.gateway.charging;

import io.tollgate.gateway.errors.GatewayFailure;
import java.math.BigDecimal;
import java.math.BigInteger;

/**
 * Bounds on what a client's request body puts into pricing and into usage columns. A value out
 * of bounds is refused with 400 naming the field and the limit, before anything is reserved: an
 * unbounded {@code max_tokens} overflowed the cost arithmetic, and a NUL byte or a 3 KB model name
 * made its usage row unstorable (issue 14).
 */
final class RequestLimits {

  /** The largest {@code max_tokens} (and its synonyms) accepted; far above any model's output. */
  static final long MAX_OUTPUT_TOKENS = 10_000_000;
  /** The longest {@code model} accepted, in characters. */
  static final int MAX_MODEL_LENGTH = 200;

  private RequestLimits() {
  }

  /** A token count from the body: a non-negative integer no larger than {@link #MAX_OUTPUT_TOKENS}. */
  static long outputTokens(String field, Object value) {
    if (!(value instanceof Number n)) {
      throw GatewayFailure.badRequest("invalid_max_tokens",
          "'" + field + "' must be an integer from 0 to " + MAX_OUTPUT_TOKENS);
    }
    BigDecimal exact;
    if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte) {
      exact = BigDecimal.valueOf(n.longValue());
    } else if (n instanceof BigInteger b) {
      exact = new BigDecimal(b);
    } else if (n instanceof BigDecimal d) {
      exact = d;
    } else if (Double.isFinite(n.doubleValue())) {
      exact = new BigDecimal(n.toString());
    } else {
      exact = null;
    }
    if (exact == null || exact.stripTrailingZeros().scale() > 0) {
      throw GatewayFailure.badRequest("invalid_max_tokens", "'" + field + "' must be an integer, not " + n);
    }
    if (exact.signum() < 0 || exact.compareTo(BigDecimal.valueOf(MAX_OUTPUT_TOKENS)) > 0) {
      throw GatewayFailure.badRequest("invalid_max_tokens",
          "'" + field + "' must be an integer from 0 to " + MAX_OUTPUT_TOKENS + ", not " + n);
    }
    return exact.longValueExact();
  }

  /** The request's model, if any: at most {@link #MAX_MODEL_LENGTH} characters, none of them a control character. */
  static String model(String model) {
    if (model == null) {
      return null;
    }
    if (model.length() > MAX_MODEL_LENGTH) {
      throw GatewayFailure.badRequest("invalid_model",
          "'model' is " + model.length() + " characters long; the limit is " + MAX_MODEL_LENGTH);
    }
    for (int i = 0; i < model.length(); i++) {
      if (Character.isISOControl(model.charAt(i))) {
        throw GatewayFailure.badRequest("invalid_model",
            "'model' must not contain control characters (found U+%04X at index %d)".formatted((int) model.charAt(i), i));
      }
    }
    return model;
  }

}
