package io.tollgate.gateway.admin;

import io.tollgate.config.Credits;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Set;

/** Typed reads of an admin request's JSON body, each failure naming the field. */
final class Fields {

  /**
   * The largest magnitude of an integer field: what the Redis scripts hold exactly (Lua numbers
   * are doubles). Credit fields are bounded the same way in units ({@link Credits#MAX_UNITS}): a
   * larger grant was once committed to the ledger and then failed in Redis.
   */
  static final long MAX_MAGNITUDE = (1L << 53) - 1;
  /** The longest text field or query parameter accepted. */
  static final int MAX_TEXT = 1_000;

  private Fields() {
  }

  static String string(JsonObject body, String field, boolean required) {
    Object v = body.getValue(field);
    if (v == null) {
      if (required) {
        throw BadInput.field(field, "is required");
      }
      return null;
    }
    if (!(v instanceof String s) || s.isBlank()) {
      throw BadInput.field(field, "must be a non-empty string");
    }
    String problem = textProblem(s);
    if (problem != null) {
      throw BadInput.field(field, problem);
    }
    return s;
  }

  /**
   * What is wrong with a text that becomes a column or a filter, or null: Postgres refuses a NUL in
   * text (the statement failed with 500), and no field needs control characters or megabytes.
   */
  static String textProblem(String s) {
    if (s.length() > MAX_TEXT) {
      return "must be at most " + MAX_TEXT + " characters (got " + s.length() + ")";
    }
    for (int i = 0; i < s.length(); i++) {
      if (Character.isISOControl(s.charAt(i))) {
        return "must not contain control characters (found U+" + String.format("%04X", (int) s.charAt(i)) + ")";
      }
    }
    return null;
  }

  static String oneOf(JsonObject body, String field, Set<String> allowed, String fallback) {
    String v = string(body, field, false);
    if (v == null) {
      return fallback;
    }
    if (!allowed.contains(v)) {
      throw BadInput.field(field, "must be one of " + String.join(", ", new java.util.TreeSet<>(allowed)));
    }
    return v;
  }

  static Long nonNegative(JsonObject body, String field) {
    Object v = body.getValue(field);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Number n) || n.doubleValue() != n.longValue() || n.longValue() < 0 || n.longValue() > MAX_MAGNITUDE) {
      throw BadInput.field(field, "must be an integer from 0 to " + MAX_MAGNITUDE);
    }
    return n.longValue();
  }

  static long integer(JsonObject body, String field) {
    Object v = body.getValue(field);
    if (!(v instanceof Number n) || n.doubleValue() != n.longValue() || Math.abs(n.longValue()) > MAX_MAGNITUDE) {
      throw BadInput.field(field, v == null ? "is required" : "must be an integer from -" + MAX_MAGNITUDE + " to " + MAX_MAGNITUDE);
    }
    return n.longValue();
  }

  /**
   * A required amount of credits, in units ({@link Credits}): a JSON number with at most three
   * decimals, of magnitude at most {@link Credits#MAX_UNITS} units; 400 naming the field otherwise.
   */
  static long credits(JsonObject body, String field) {
    Object v = body.getValue(field);
    if (v == null) {
      throw BadInput.field(field, "is required");
    }
    return creditsOf(v, field);
  }

  /** Credits ≥ 0 in units, or null when absent. */
  static Long nonNegativeCredits(JsonObject body, String field) {
    return nonNegativeCredits(body, field, field);
  }

  /** {@link #nonNegativeCredits(JsonObject, String)} of {@code key}, named {@code field} (a path) in errors. */
  static Long nonNegativeCredits(JsonObject body, String field, String key) {
    Object v = body.getValue(key);
    if (v == null) {
      return null;
    }
    long units = creditsOf(v, field);
    if (units < 0) {
      throw BadInput.field(field, "must be credits from 0 to " + Credits.format(Credits.MAX_UNITS) + ", got " + v);
    }
    return units;
  }

  private static long creditsOf(Object v, String field) {
    if (!(v instanceof Number n)) {
      throw BadInput.field(field, "must be a number of credits with at most " + Credits.SCALE + " decimals (e.g. 2.5)");
    }
    try {
      return Credits.units(n);
    } catch (IllegalArgumentException e) {
      throw BadInput.field(field, "must be a number of credits with at most " + Credits.SCALE + " decimals: " + e.getMessage());
    }
  }

  static Instant instant(JsonObject body, String field) {
    String v = string(body, field, false);
    if (v == null) {
      return null;
    }
    try {
      return Instant.parse(v);
    } catch (DateTimeParseException e) {
      throw BadInput.field(field, "must be an RFC 3339 timestamp such as 2026-12-31T23:59:59Z");
    }
  }

  static JsonObject object(JsonObject body, String field) {
    Object v = body.getValue(field);
    if (v == null) {
      return new JsonObject();
    }
    if (!(v instanceof JsonObject o)) {
      throw BadInput.field(field, "must be an object");
    }
    return o;
  }

  /** An absolute http(s) URL with a host, at most 2000 characters; null when absent. */
  static String httpUrl(JsonObject body, String field) {
    String url = string(body, field, false);
    if (url == null) {
      return null;
    }
    try {
      java.net.URI uri = new java.net.URI(url);
      if (uri.isAbsolute() && ("https".equalsIgnoreCase(uri.getScheme()) || "http".equalsIgnoreCase(uri.getScheme()))
          && uri.getHost() != null && url.length() <= 2_000) {
        return url;
      }
    } catch (java.net.URISyntaxException ignored) {
      // reported below
    }
    throw BadInput.field(field, "must be an absolute http(s) URL of at most 2000 characters");
  }

  static long pathId(String raw, String what) {
    try {
      long id = Long.parseLong(raw);
      if (id > 0) {
        return id;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw new BadInput(404, "not-found", what + " " + raw + " not found");
  }
}
