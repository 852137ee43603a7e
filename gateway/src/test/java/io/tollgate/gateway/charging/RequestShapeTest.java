package io.tollgate.gateway.charging;

import io.tollgate.gateway.measure.JsonMutations;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tollgate.config.UsageFormat;
import io.tollgate.gateway.errors.GatewayFailure;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Request shape: a streaming read of model, max tokens and stream, with the answers the full parse gave")
class RequestShapeTest {

  private static final String CHAT = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\","
      + "\"content\":\"say \\\"model\\\": 1\",\"model\":{\"nested\":true}}],\"temperature\":0.2}";

  private static final String NOT_JSON = "request body is not valid JSON: ";
  /** What {@link #documented} answers for a body that is not JSON. */
  private static final Object NOT_JSON_OUTCOME = new Object();

  /** A documented 400 whose message wording the README leaves open: only the code is compared. */
  private record Refused(String code) {
  }

  private static RequestShape parse(String body) {
    return RequestShape.parse(Buffer.buffer(body), UsageFormat.OPENAI, 4096);
  }

  /** The outcome as comparable text: the shape, or the failure's status, code and message. */
  private static Object outcome(java.util.function.Supplier<RequestShape> parse) {
    try {
      RequestShape s = parse.get();
      return List.of(String.valueOf(s.model()), s.inputEstimate(), s.maxOutput(), s.stream(), s.dropUsageChunk(), s.body().toString());
    } catch (GatewayFailure f) {
      return List.of(f.status(), f.code(), f.getMessage());
    }
  }

  @Test
  @DisplayName("model, max_tokens and stream are read from the top level only; the body is forwarded as it came")
  void fields() {
    Buffer raw = Buffer.buffer(CHAT);
    RequestShape shape = RequestShape.parse(raw, UsageFormat.OPENAI, 4096);
    assertThat(shape.model()).isEqualTo("gpt-4o-mini");
    assertThat(shape.maxOutput()).isEqualTo(16);
    assertThat(shape.inputEstimate()).isEqualTo(raw.length() / 4);
    assertThat(shape.stream()).isFalse();
    assertThat(shape.dropUsageChunk()).isFalse();
    assertThat(shape.body()).isSameAs(raw);
    assertThat(parse("{\"messages\":[]}").maxOutput()).as("default").isEqualTo(4096);
    assertThat(parse("{\"model\":null}").model()).isNull();
  }

  @Test
  @DisplayName("the last of max_tokens, max_completion_tokens and max_output_tokens that is present wins; fractions are refused")
  void maxTokens() {
    assertThat(parse("{\"max_output_tokens\":3,\"max_tokens\":1,\"max_completion_tokens\":2}").maxOutput()).isEqualTo(3);
    assertThat(parse("{\"max_tokens\":1,\"max_completion_tokens\":null}").maxOutput()).isEqualTo(1);
    // Issue 14: a fraction used to be truncated; a token count is an integer, so it is a 400 now.
    assertThatThrownBy(() -> parse("{\"max_tokens\":7.9}")).isInstanceOfSatisfying(GatewayFailure.class,
        f -> assertThat(f.getMessage()).isEqualTo("'max_tokens' must be an integer, not 7.9"));
    assertThatThrownBy(() -> parse("{\"max_tokens\":-0.5}")).isInstanceOf(GatewayFailure.class);
    assertThat(parse("{\"max_tokens\":7.0}").maxOutput()).as("an integral number written with a fraction").isEqualTo(7);
    assertThat(parse("{\"max_tokens\":5,\"max_tokens\":6}").maxOutput()).as("repeated key: last value").isEqualTo(6);
  }

  @Test
  @DisplayName("wrong types and negative limits are 400s naming the field, checked after the whole body parsed")
  void invalidFields() {
    assertThatThrownBy(() -> parse("{\"model\":5}")).isInstanceOfSatisfying(GatewayFailure.class,
        f -> assertThat(f.code()).isEqualTo("invalid_model"));
    assertThatThrownBy(() -> parse("{\"model\":[\"a\"],\"max_tokens\":-1}")).isInstanceOfSatisfying(GatewayFailure.class,
        f -> assertThat(f.code()).isEqualTo("invalid_model"));
    assertThatThrownBy(() -> parse("{\"max_tokens\":-1}")).isInstanceOfSatisfying(GatewayFailure.class,
        f -> assertThat(f.getMessage()).isEqualTo("'max_tokens' must be an integer from 0 to 10000000, not -1"));
    assertThatThrownBy(() -> parse("{\"max_completion_tokens\":\"10\"}")).isInstanceOfSatisfying(GatewayFailure.class,
        f -> assertThat(f.getMessage()).isEqualTo("'max_completion_tokens' must be an integer from 0 to 10000000"));
    assertThat(parse("{\"model\":5,\"model\":\"gpt-4o\"}").model()).as("a repeated key counts with its last value").isEqualTo("gpt-4o");
    assertThatThrownBy(() -> parse("{\"model\":5, \"max_tokens\": }")).isInstanceOfSatisfying(GatewayFailure.class,
        f -> assertThat(f.code()).as("syntax first, as before").isEqualTo("invalid_json"));
  }

  @Test
  @DisplayName("malformed JSON is a 400 invalid_json saying the body is not valid JSON, and non-objects are refused")
  void malformed() {
    for (String body : List.of("{\"model\": \"gpt-4o-mini\", ", "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":[1,}", "{'a':1}",
        "{\"a\":\"\u0001\"}", "{\"messages\":[{\"content\":\"\\q\"}]}")) {
      assertThatThrownBy(() -> parse(body)).as(body).isInstanceOfSatisfying(GatewayFailure.class, f -> {
        assertThat(f.status()).isEqualTo(400);
        assertThat(f.code()).isEqualTo("invalid_json");
        assertThat(f.getMessage()).startsWith(NOT_JSON);
      });
    }
    assertThatThrownBy(() -> parse("[{\"model\":\"x\"}]")).isInstanceOfSatisfying(GatewayFailure.class,
        f -> assertThat(f.getMessage()).isEqualTo("request body must be a JSON object"));
    assertThatThrownBy(() -> parse("  ")).isInstanceOfSatisfying(GatewayFailure.class,
        f -> assertThat(List.of(f.status(), f.code())).isEqualTo(List.of(400, "invalid_json")));
  }

  @Test
  @DisplayName("an OpenAI stream without include_usage gets it added and the usage chunk dropped; one that asked keeps its body")
  void streams() {
    RequestShape added = parse("{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"other\":1}}");
    assertThat(added.stream()).isTrue();
    assertThat(added.dropUsageChunk()).isTrue();
    assertThat(new JsonObject(added.body()).getJsonObject("stream_options").getMap())
        .containsEntry("other", 1).containsEntry("include_usage", true);

    Buffer asked = Buffer.buffer("{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    RequestShape kept = RequestShape.parse(asked, UsageFormat.OPENAI, 4096);
    assertThat(kept.dropUsageChunk()).isFalse();
    assertThat(kept.body()).isSameAs(asked);

    assertThat(parse("{\"stream\":true,\"stream_options\":{\"include_usage\":true},\"stream_options\":{}}").dropUsageChunk())
        .as("the last stream_options counts").isTrue();
    RequestShape anthropic = RequestShape.parse(Buffer.buffer("{\"stream\":true}"), UsageFormat.ANTHROPIC, 4096);
    assertThat(anthropic.stream()).isTrue();
    assertThat(anthropic.dropUsageChunk()).isFalse();
    assertThat(parse("{\"stream\":\"true\"}").stream()).isFalse();
  }

  @Test
  @DisplayName("on thousands of near-miss bodies the streaming read answers what the documented rules say")
  void sameAnswersAsTheRules() {
    List<String> seeds = List.of(CHAT,
        "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hé 😀\"}]}",
        "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_completion_tokens\":9}",
        "{\"model\":\"claude\",\"max_output_tokens\":100,\"input\":[1,2,{\"a\":null}],\"stream\":false}");
    int compared = 0;
    for (UsageFormat format : List.of(UsageFormat.OPENAI, UsageFormat.ANTHROPIC)) {
      for (byte[] variant : JsonMutations.of(seeds, 2500, 11)) {
        Buffer body = Buffer.buffer(variant);
        String as = new String(variant, StandardCharsets.UTF_8);
        Object actual = rewrittenAsJson(outcome(() -> RequestShape.parse(body, format, 4096)));
        Object expected = documented(body, format, 4096);
        if (expected instanceof Refused r) {
          // The README names the code and the rule, not the exact wording of every message.
          assertThat(actual).as(as).isInstanceOf(List.class);
          assertThat(List.copyOf(((List<?>) actual).subList(0, 2))).as(as).isEqualTo(List.of(400, r.code()));
        } else if (expected == NOT_JSON_OUTCOME) {
          assertThat(actual).as(as).isInstanceOf(List.class);
          assertThat(List.copyOf(((List<?>) actual).subList(0, 2))).as(as).isEqualTo(List.of(400, "invalid_json"));
          assertThat(String.valueOf(((List<?>) actual).get(2))).as(as).startsWith(NOT_JSON);
        } else {
          assertThat(actual).as(as).isEqualTo(expected);
        }
        compared++;
      }
    }
    assertThat(compared).isEqualTo(2 * 4 * 2501);
  }

  /**
   * The answer the README and {@link RequestShape}'s contract give, worked out here from a plain
   * {@link JsonObject} decode and not from the code under test: a JSON object or a 400
   * {@code invalid_json}; a string (or absent) {@code model} or 400 {@code invalid_model}; of
   * {@code max_tokens}, {@code max_completion_tokens}, {@code max_output_tokens} the last present
   * wins (fractions truncate), a wrong type or a negative one is 400 {@code invalid_max_tokens}
   * naming it, none present means the default; the input estimate is the body's bytes / 4; an
   * OpenAI stream that did not ask for {@code stream_options.include_usage} gets it added and the
   * extra chunk dropped (that body as a JsonObject). Comparable with {@link #outcome}, except {@link #NOT_JSON_OUTCOME}: a
   * parser's own wording of a syntax error is not specified, so only its prefix is compared.
   */
  private static Object documented(Buffer raw, UsageFormat format, long defaultMaxTokens) {
    if (!startsWithBrace(raw)) {
      return List.of(400, "invalid_json", "request body must be a JSON object");
    }
    JsonObject json;
    try {
      json = new JsonObject(raw);
    } catch (DecodeException e) {
      return NOT_JSON_OUTCOME;
    }
    Object model = json.getValue("model");
    if (model != null && !(model instanceof String)) {
      return List.of(400, "invalid_model", "'model' must be a string");
    }
    // README: at most 200 characters, no control characters.
    if (model instanceof String m && (m.length() > 200 || m.chars().anyMatch(Character::isISOControl))) {
      return new Refused("invalid_model");
    }
    long maxOutput = defaultMaxTokens;
    for (String field : List.of("max_tokens", "max_completion_tokens", "max_output_tokens")) {
      Object v = json.getValue(field);
      if (v == null) {
        continue;
      }
      // README: integers from 0 to 10,000,000; a fraction, a negative or anything larger is 400.
      java.math.BigDecimal exact;
      try {
        exact = v instanceof Number n ? new java.math.BigDecimal(n.toString()) : null;
      } catch (NumberFormatException infinite) {
        exact = null;
      }
      if (exact == null || exact.stripTrailingZeros().scale() > 0 || exact.signum() < 0
          || exact.compareTo(java.math.BigDecimal.valueOf(10_000_000)) > 0) {
        return new Refused("invalid_max_tokens");
      }
      maxOutput = exact.longValueExact();
    }
    boolean stream = Boolean.TRUE.equals(json.getValue("stream"));
    Object options = json.getValue("stream_options");
    boolean asked = options instanceof JsonObject o && Boolean.TRUE.equals(o.getValue("include_usage"));
    boolean drop = stream && format == UsageFormat.OPENAI && !asked;
    Object forwarded = raw.toString();
    if (drop) {
      JsonObject rewritten = json.copy();
      rewritten.put("stream_options", (options instanceof JsonObject o ? o.copy() : new JsonObject()).put("include_usage", true));
      forwarded = rewritten;
    }
    return List.of(String.valueOf(model), (long) raw.length() / 4, maxOutput, stream, drop, forwarded);
  }

  /**
   * A rewritten body compared as JSON: how the rewrite escapes characters is not specified, only
   * that the body is the client's plus {@code include_usage}. An untouched body stays bytes.
   */
  private static Object rewrittenAsJson(Object outcome) {
    if (outcome instanceof List<?> l && l.size() == 6 && Boolean.TRUE.equals(l.get(4))) {
      return List.of(l.get(0), l.get(1), l.get(2), l.get(3), l.get(4), new JsonObject((String) l.get(5)));
    }
    return outcome;
  }

  /** Only JSON whitespace (RFC 8259: space, tab, LF, CR) before the brace. */
  private static boolean startsWithBrace(Buffer raw) {
    for (int i = 0; i < raw.length(); i++) {
      byte b = raw.getByte(i);
      if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
        return b == '{';
      }
    }
    return false;
  }
}
