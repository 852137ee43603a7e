package io.tollgate.gateway.measure;

import io.vertx.core.json.JsonObject;

/** UsageFields as it was before the streaming parser (JsonObject based): the oracle the new one is compared with. */
final class LegacyUsageFields {

  private LegacyUsageFields() {
  }

  /** The usage of a whole JSON response, or null when it has none. */
  static Usage from(JsonObject body) {
    if (body == null || !(body.getValue("usage") instanceof JsonObject usage)) {
      return null;
    }
    return of(usage);
  }

  static Usage of(JsonObject usage) {
    long input = first(usage, "prompt_tokens", "input_tokens");
    long output = first(usage, "completion_tokens", "output_tokens");
    // Anthropic counts prompt-cache reads and writes separately from input_tokens.
    input += num(usage, "cache_creation_input_tokens") + num(usage, "cache_read_input_tokens");
    return new Usage(input, output, false);
  }

  static long first(JsonObject o, String a, String b) {
    return o.containsKey(a) ? num(o, a) : num(o, b);
  }

  static long num(JsonObject o, String key) {
    Object v = o.getValue(key);
    return v instanceof Number n ? Math.max(0, n.longValue()) : 0;
  }
}
