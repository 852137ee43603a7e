package io.tollgate.stripesync.webhooks;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Map;

/**
 * JSON that Postgres can store: {@code jsonb} (like {@code text}) refuses U+0000, so a NUL in any
 * key or string is replaced by U+FFFD. Lossy on its own; the caller keeps the original bytes.
 */
final class NulFreeJson {

  static final char NUL = '\u0000';
  static final char REPLACEMENT = '\uFFFD';

  private NulFreeJson() {
  }

  /** True if a key or string anywhere in the document holds a NUL. */
  static boolean hasNul(String body) {
    // A NUL can only be in the decoded document if the body has one raw or as the escape \\u0000
    // (which a literal backslash-u-0000 in a string would also match: a false positive costs one bytea copy).
    return body.indexOf(NUL) >= 0 || body.toLowerCase(java.util.Locale.ROOT).contains("\\u0000");
  }

  static JsonObject of(JsonObject in) {
    JsonObject out = new JsonObject();
    for (Map.Entry<String, Object> e : in) {
      out.put(clean(e.getKey()), value(e.getValue()));
    }
    return out;
  }

  private static JsonArray of(JsonArray in) {
    JsonArray out = new JsonArray();
    for (Object v : in) {
      out.add(value(v));
    }
    return out;
  }

  private static Object value(Object v) {
    if (v instanceof String s) {
      return clean(s);
    }
    if (v instanceof JsonObject o) {
      return of(o);
    }
    if (v instanceof JsonArray a) {
      return of(a);
    }
    return v;
  }

  private static String clean(String s) {
    return s.indexOf(NUL) < 0 ? s : s.replace(NUL, REPLACEMENT);
  }
}
