package io.tollgate.gateway.metering;

import io.tollgate.config.UsageFormat;
import io.tollgate.gateway.errors.GatewayFailure;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

/**
 * What the gateway reads from an AI request body before admitting it: the model, the token
 * estimate to reserve for (input ≈ body bytes / 4, which over-counts JSON syntax on purpose,
 * plus {@code max_tokens}), whether it streams — and, for OpenAI streams that did not ask for
 * usage, the rewritten body that asks for it (the extra chunk is then dropped on the way back).
 */
record RequestShape(String model, long inputEstimate, long maxOutput, boolean stream, boolean dropUsageChunk, Buffer body) {

  static RequestShape none(Buffer body) {
    return new RequestShape(null, body == null ? 0 : body.length() / 4, 0, false, false, body);
  }

  static RequestShape parse(Buffer raw, UsageFormat format, long defaultMaxTokens) {
    JsonObject json;
    if (!startsWithBrace(raw)) {
      throw GatewayFailure.badRequest("invalid_json", "request body must be a JSON object");
    }
    try {
      json = new JsonObject(raw);
    } catch (DecodeException e) {
      throw GatewayFailure.badRequest("invalid_json", "request body is not valid JSON: " + shorten(e.getMessage()));
    }
    Object modelValue = json.getValue("model");
    if (modelValue != null && !(modelValue instanceof String)) {
      throw GatewayFailure.badRequest("invalid_model", "'model' must be a string");
    }
    long maxOutput = defaultMaxTokens;
    for (String field : new String[] {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
      Object v = json.getValue(field);
      if (v != null) {
        if (!(v instanceof Number n) || n.longValue() < 0) {
          throw GatewayFailure.badRequest("invalid_max_tokens", "'" + field + "' must be a non-negative integer");
        }
        maxOutput = n.longValue();
      }
    }
    boolean stream = Boolean.TRUE.equals(json.getValue("stream"));
    boolean drop = false;
    Buffer body = raw;
    if (stream && format == UsageFormat.OPENAI) {
      JsonObject options = json.getValue("stream_options") instanceof JsonObject o ? o : null;
      if (options == null || !Boolean.TRUE.equals(options.getValue("include_usage"))) {
        // The gateway needs the final usage chunk to charge exactly; the client did not ask for it.
        json.put("stream_options", (options == null ? new JsonObject() : options.copy()).put("include_usage", true));
        body = json.toBuffer();
        drop = true;
      }
    }
    return new RequestShape((String) modelValue, raw.length() / 4, maxOutput, stream, drop, body);
  }

  private static boolean startsWithBrace(Buffer raw) {
    for (int i = 0; i < raw.length(); i++) {
      byte b = raw.getByte(i);
      if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
        return b == '{';
      }
    }
    return false;
  }

  long estimatedTokens() {
    return inputEstimate + maxOutput;
  }

  private static String shorten(String message) {
    if (message == null) {
      return "unparseable";
    }
    return message.length() > 200 ? message.substring(0, 200) + "…" : message;
  }
}
