package io.tollgate.gateway.console;

import io.vertx.ext.web.RoutingContext;

/** A console form that is wrong in a way the operator can fix: a 400 page naming the field. */
final class FormError extends RuntimeException {

  FormError(String message) {
    super(message, null, false, false);
  }

  /** A text field, trimmed; null when empty and not required. */
  static String text(RoutingContext ctx, String field, String label, boolean required, int max) {
    String raw = ctx.request().getFormAttribute(field);
    String v = raw == null ? "" : raw.strip();
    if (v.isEmpty()) {
      if (required) {
        throw new FormError(label + " is required.");
      }
      return null;
    }
    if (v.length() > max) {
      throw new FormError(label + " may be at most " + max + " characters.");
    }
    for (int i = 0; i < v.length(); i++) {
      if (Character.isISOControl(v.charAt(i))) {
        throw new FormError(label + " may not contain control characters.");
      }
    }
    return v;
  }

  /** A whole number from {@code min} to {@code max}; null when empty and not required. */
  static Long number(RoutingContext ctx, String field, String label, boolean required, long min, long max) {
    String v = text(ctx, field, label, required, 20);
    if (v == null) {
      return null;
    }
    try {
      long n = Long.parseLong(v.replace(",", "").replace("_", ""));
      if (n >= min && n <= max) {
        return n;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw new FormError(label + " must be a whole number from " + min + " to " + max + ".");
  }

  /**
   * A credit amount typed as a decimal ({@code 2.5}, {@code 1,000}), in units (millicredits);
   * null when empty and not required. At most three decimals, as everywhere credits are entered.
   */
  static Long credits(RoutingContext ctx, String field, String label, boolean required, boolean negativeAllowed) {
    String v = text(ctx, field, label, required, 30);
    if (v == null) {
      return null;
    }
    long units;
    try {
      units = io.tollgate.config.Credits.units(v.replace(",", "").replace("_", ""));
    } catch (IllegalArgumentException e) {
      throw new FormError(label + ": " + e.getMessage() + ".");
    }
    if (units < 0 && !negativeAllowed) {
      throw new FormError(label + " must not be negative.");
    }
    return units;
  }

  /** One of the allowed values, else {@code fallback} when empty. */
  static String oneOf(RoutingContext ctx, String field, String label, java.util.Collection<String> allowed, String fallback) {
    String v = text(ctx, field, label, false, 100);
    if (v == null) {
      return fallback;
    }
    if (!allowed.contains(v)) {
      throw new FormError(label + " must be one of " + String.join(", ", allowed) + ".");
    }
    return v;
  }

  /** A positive id in the path. */
  static long pathId(RoutingContext ctx, String param, String what) {
    try {
      long id = Long.parseLong(ctx.pathParam(param));
      if (id > 0) {
        return id;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw io.tollgate.metering.Refusal.notFound(what + " " + ctx.pathParam(param));
  }
}
