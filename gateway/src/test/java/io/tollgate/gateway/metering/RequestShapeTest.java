package io.tollgate.gateway.metering;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tollgate.config.UsageFormat;
import io.tollgate.gateway.errors.GatewayFailure;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Request shape: a streaming read of model, max tokens and stream, with the answers the full parse gave")
class RequestShapeTest {

  private static final String CHAT = "{\"model\":\"gpt-4o-mini\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\","
      + "\"content\":\"say \\\"model\\\": 1\",\"model\":{\"nested\":true}}],\"temperature\":0.2}";

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
  @DisplayName("malformed JSON is a 400 invalid_json with the same message as before, and non-objects are refused")
  void malformed() {
    for (String body : List.of("{\"model\": \"gpt-4o-mini\", ", "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":[1,}", "{'a':1}",
        "{\"a\":\"\u0001\"}", "{\"messages\":[{\"content\":\"\\q\"}]}")) {
      Object now = outcome(() -> parse(body));
      assertThat(now).as(body).isEqualTo(outcome(() -> RequestShape.parseTree(Buffer.buffer(body), UsageFormat.OPENAI, 4096)));
      assertThat(((List<?>) now).get(1)).as(body).isEqualTo("invalid_json");
    }
    assertThatThrownBy(() -> parse("[{\"model\":\"x\"}]")).isInstanceOfSatisfying(GatewayFailure.class,
        f -> assertThat(f.getMessage()).isEqualTo("request body must be a JSON object"));
    assertThatThrownBy(() -> parse("  ")).isInstanceOf(GatewayFailure.class);
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
  @DisplayName("on thousands of near-miss bodies the streaming read answers exactly what the full parse answered")
  void sameAnswersAsTheFullParse() {
    List<String> seeds = List.of(CHAT,
        "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hé 😀\"}]}",
        "{\"model\":\"gpt-4o\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_completion_tokens\":9}",
        "{\"model\":\"claude\",\"max_output_tokens\":100,\"input\":[1,2,{\"a\":null}],\"stream\":false}");
    int compared = 0;
    for (UsageFormat format : List.of(UsageFormat.OPENAI, UsageFormat.ANTHROPIC)) {
      for (byte[] variant : JsonMutations.of(seeds, 2500, 11)) {
        Buffer body = Buffer.buffer(variant);
        assertThat(outcome(() -> RequestShape.parse(body, format, 4096)))
            .as(new String(variant, StandardCharsets.UTF_8))
            .isEqualTo(outcome(() -> RequestShape.parseTree(body, format, 4096)));
        compared++;
      }
    }
    assertThat(compared).isEqualTo(2 * 4 * 2501);
  }
}
