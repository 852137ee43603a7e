package io.tollgate.gateway.charging;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.tollgate.config.UsageFormat;
import io.tollgate.gateway.errors.GatewayFailure;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.core.json.jackson.JacksonCodec;
import java.io.IOException;

/**
 * What the gateway reads from an AI request body before admitting it: the model, the token
 * estimate to reserve for (input ≈ body bytes / 4, which over-counts JSON syntax on purpose,
 * plus {@code max_tokens}), whether it streams — and, for OpenAI streams that did not ask for
 * usage, the rewritten body that asks for it (the extra chunk is then dropped on the way back).
 */
record RequestShape(String model, long inputEstimate, long maxOutput, boolean stream, boolean dropUsageChunk, Buffer body) {

  private static final String[] MAX_FIELDS = {"max_tokens", "max_completion_tokens", "max_output_tokens"};
  /** Marks a value of the wrong JSON type. */
  private static final Object INVALID = new Object();

  static RequestShape none(Buffer body) {
    return new RequestShape(null, body == null ? 0 : body.length() / 4, 0, false, false, body);
  }

  static RequestShape parse(Buffer raw, UsageFormat format, long defaultMaxTokens) {
    if (!startsWithBrace(raw)) {
      throw GatewayFailure.badRequest("invalid_json", "request body must be a JSON object");
    }
    TopLevel top = TopLevel.read(raw, format == UsageFormat.OPENAI);
    if (top == null) {
      // Malformed JSON (the tree parse words the error) or a body to rewrite: the tree path.
      return parseTree(raw, format, defaultMaxTokens);
    }
    if (top.model == INVALID) {
      throw GatewayFailure.badRequest("invalid_model", "'model' must be a string");
    }
    long maxOutput = defaultMaxTokens;
    for (int i = 0; i < MAX_FIELDS.length; i++) {
      Object v = top.max[i];
      if (v != null) {
        maxOutput = RequestLimits.outputTokens(MAX_FIELDS[i], v == INVALID ? "" : v);
      }
    }
    return new RequestShape(RequestLimits.model((String) top.model), raw.length() / 4, maxOutput, top.stream, false, raw);
  }

  /** The original full parse: the reference for error messages, and the path that re-writes the body. */
  static RequestShape parseTree(Buffer raw, UsageFormat format, long defaultMaxTokens) {
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
    for (String field : MAX_FIELDS) {
      Object v = json.getValue(field);
      if (v != null) {
        maxOutput = RequestLimits.outputTokens(field, v);
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
    return new RequestShape(RequestLimits.model((String) modelValue), raw.length() / 4, maxOutput, stream, drop, body);
  }

  /**
   * The top-level fields admission reads, from one pass of the tokenizer that skips everything
   * else. A repeated key counts with its last value, as in a {@code JsonObject}.
   */
  private static final class TopLevel {
    Object model;
    final Object[] max = new Object[MAX_FIELDS.length];
    boolean stream;
    boolean includesUsage;

    /**
     * The fields, or null when the body is not valid JSON to its end, or (with
     * {@code wantsIncludeUsage}) as soon as {@code stream: true} is met before an
     * {@code include_usage: true}: such a body is most likely rewritten, and the tree path gives
     * the same answers whether or not a later {@code stream_options} asks for usage.
     */
    static TopLevel read(Buffer raw, boolean wantsIncludeUsage) {
      try (JsonParser p = JacksonCodec.createParser(raw)) {
        if (p.nextToken() != JsonToken.START_OBJECT) {
          return null;
        }
        TopLevel top = new TopLevel();
        String name;
        while ((name = p.nextFieldName()) != null) {
          JsonToken t = p.nextToken();
          switch (name) {
            case "model" -> top.model = t == JsonToken.VALUE_STRING ? p.getText() : t == JsonToken.VALUE_NULL ? null : INVALID;
            case "max_tokens" -> top.max[0] = number(p, t);
            case "max_completion_tokens" -> top.max[1] = number(p, t);
            case "max_output_tokens" -> top.max[2] = number(p, t);
            case "stream" -> {
              top.stream = t == JsonToken.VALUE_TRUE;
              if (top.stream && wantsIncludeUsage && !top.includesUsage) {
                return null;
              }
            }
            case "stream_options" -> top.includesUsage = t == JsonToken.START_OBJECT && includesUsage(p);
            default -> { }
          }
          p.skipChildren();
        }
        boolean complete = p.nextToken() == null;
        return complete && !(top.stream && wantsIncludeUsage && !top.includesUsage) ? top : null;
      } catch (IOException | RuntimeException e) {
        return null;
      }
    }

    private static Object number(JsonParser p, JsonToken t) throws IOException {
      if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
        // The same Integer/Long/BigInteger/Double a full parse would hold.
        return p.getNumberValue();
      }
      return t == JsonToken.VALUE_NULL ? null : INVALID;
    }

    /** {@code include_usage: true} in the object the parser is on; leaves it on the object's end. */
    private static boolean includesUsage(JsonParser p) throws IOException {
      boolean include = false;
      String name;
      while ((name = p.nextFieldName()) != null) {
        JsonToken t = p.nextToken();
        if (name.equals("include_usage")) {
          include = t == JsonToken.VALUE_TRUE;
        }
        p.skipChildren();
      }
      return include;
    }
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
