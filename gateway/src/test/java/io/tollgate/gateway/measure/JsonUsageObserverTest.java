package io.tollgate.gateway.measure;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.config.UsageFormat;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("JSON responses: usage is read by a streaming parse, with the answers the full parse gave")
class JsonUsageObserverTest {

  private static final String OPENAI = """
      {"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini",
       "choices":[{"index":0,"message":{"role":"assistant","content":"hi \\"usage\\": {}"},"finish_reason":"stop"}],
       "usage":{"prompt_tokens":75,"completion_tokens":16,"total_tokens":91,
                "prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}""";
  private static final String RESPONSES = """
      {"id":"resp_1","output":[{"type":"message","content":[{"type":"output_text","text":"x"}]}],
       "usage":{"input_tokens":10,"output_tokens":20,"total_tokens":30}}""";
  private static final String ANTHROPIC = """
      {"id":"msg_1","type":"message","content":[{"type":"text","text":"x"}],
       "usage":{"input_tokens":5,"cache_creation_input_tokens":7,"cache_read_input_tokens":11,"output_tokens":3}}""";

  private static Usage observe(Buffer... chunks) {
    JsonUsageObserver observer = new JsonUsageObserver(UsageFormat.OPENAI);
    for (Buffer chunk : chunks) {
      assertThat(observer.onChunk(chunk)).isSameAs(chunk);
    }
    assertThat(observer.onEnd().length()).isZero();
    return observer.reported() ? observer.usage(-1) : null;
  }

  private static Usage observe(String body) {
    return observe(Buffer.buffer(body));
  }

  /** What the observer answered before: a full JsonObject parse, then the usage fields. */
  private static Usage legacy(Buffer body) {
    JsonObject json;
    try {
      json = body.toJsonObject();
    } catch (RuntimeException e) {
      json = null;
    }
    return LegacyUsageFields.from(json);
  }

  @Test
  @DisplayName("OpenAI, Responses API and Anthropic usage shapes, cache tokens counted as input")
  void shapes() {
    assertThat(observe(OPENAI)).isEqualTo(new Usage(75, 16, false));
    assertThat(observe(RESPONSES)).isEqualTo(new Usage(10, 20, false));
    assertThat(observe(ANTHROPIC)).isEqualTo(new Usage(5 + 7 + 11, 3, false));
    assertThat(observe("{\"usage\":{\"prompt_tokens\":1,\"input_tokens\":50,\"completion_tokens\":2,\"output_tokens\":60}}"))
        .as("prompt/completion win over input/output").isEqualTo(new Usage(1, 2, false));
    assertThat(observe("{\"usage\":{\"prompt_tokens\":null,\"input_tokens\":50}}"))
        .as("a present prompt_tokens wins even when null").isEqualTo(new Usage(0, 0, false));
  }

  @Test
  @DisplayName("only the top-level usage counts: usage objects nested in other fields are ignored")
  void nestedUsageIgnored() {
    assertThat(observe("{\"choices\":[{\"usage\":{\"prompt_tokens\":999}}],\"meta\":{\"usage\":{\"prompt_tokens\":998}},"
        + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}")).isEqualTo(new Usage(1, 2, false));
    assertThat(observe("{\"choices\":[{\"usage\":{\"prompt_tokens\":999}}],\"meta\":{\"usage\":{\"prompt_tokens\":998}}}")).isNull();
    assertThat(observe("{\"usage\":{\"prompt_tokens\":3,\"details\":{\"prompt_tokens\":900}}}")).isEqualTo(new Usage(3, 0, false));
  }

  @Test
  @DisplayName("a repeated usage key counts with its last value, also when that value is not an object")
  void duplicates() {
    assertThat(observe("{\"usage\":{\"prompt_tokens\":1},\"usage\":{\"prompt_tokens\":2}}")).isEqualTo(new Usage(2, 0, false));
    assertThat(observe("{\"usage\":{\"prompt_tokens\":1},\"usage\":null}")).isNull();
    assertThat(observe("{\"usage\":{\"prompt_tokens\":1,\"prompt_tokens\":4}}")).isEqualTo(new Usage(4, 0, false));
  }

  @Test
  @DisplayName("numbers: negatives count 0, fractions are truncated, huge values convert as Number.longValue() does")
  void numbers() {
    assertThat(observe("{\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":2.9}}")).isEqualTo(new Usage(0, 2, false));
    assertThat(observe("{\"usage\":{\"prompt_tokens\":1e300,\"completion_tokens\":\"7\"}}")).isEqualTo(new Usage(Long.MAX_VALUE, 0, false));
    String big = "18446744073709551621"; // 2^64 + 5: BigInteger.longValue() keeps the low 64 bits
    assertThat(observe("{\"usage\":{\"prompt_tokens\":" + big + "}}")).isEqualTo(legacy(Buffer.buffer("{\"usage\":{\"prompt_tokens\":" + big + "}}")))
        .isEqualTo(new Usage(5, 0, false));
  }

  @Test
  @DisplayName("malformed or non-object bodies report no usage (estimated), wherever the fault is")
  void malformed() {
    for (String body : List.of(
        "{\"usage\":{\"prompt_tokens\":1}", // truncated
        "{\"usage\":{\"prompt_tokens\":1}} trailing",
        "{\"usage\":{\"prompt_tokens\":1}}{}",
        "{\"usage\":{\"prompt_tokens\":1},\"x\":[1,2,}",
        "{\"x\":\"\u0001\",\"usage\":{\"prompt_tokens\":1}}",
        "{\"x\":\"\\q\",\"usage\":{\"prompt_tokens\":1}}",
        "[{\"usage\":{\"prompt_tokens\":1}}]",
        "\"usage\"",
        "42",
        "   ",
        "<html>bad gateway</html>")) {
      assertThat(observe(body)).as(body).isNull();
      assertThat(observe(body)).as(body).isEqualTo(legacy(Buffer.buffer(body)));
    }
    Buffer brokenUtf8 = Buffer.buffer("{\"x\":\"").appendBytes(new byte[] {(byte) 0xC3, 'a'})
        .appendString("\",\"usage\":{\"prompt_tokens\":1}}");
    assertThat(observe(brokenUtf8)).isNull();
    assertThat(legacy(brokenUtf8)).isNull();
  }

  @Test
  @DisplayName("comments are accepted, as the full parse accepted them")
  void comments() {
    String body = "/* a */ {\"usage\" /* b */ : {\"prompt_tokens\": 4 // c\n}}";
    assertThat(observe(body)).isEqualTo(new Usage(4, 0, false)).isEqualTo(legacy(Buffer.buffer(body)));
  }

  @Test
  @DisplayName("a literal null body reports no usage (the full parse threw a NullPointerException there)")
  void nullBody() {
    assertThat(observe("null")).isNull();
  }

  @Test
  @DisplayName("nesting past the parser's depth limit and over-long numbers are malformed, even in skipped fields")
  void limits() {
    String deep = "{\"x\":" + "[".repeat(1500) + "]".repeat(1500) + ",\"usage\":{\"prompt_tokens\":1}}";
    assertThat(observe(deep)).isNull();
    assertThat(legacy(Buffer.buffer(deep))).isNull();
    String longNumber = "{\"x\":" + "9".repeat(1500) + ",\"usage\":{\"prompt_tokens\":1}}";
    assertThat(observe(longNumber)).isNull();
    assertThat(legacy(Buffer.buffer(longNumber))).isNull();
  }

  @Test
  @DisplayName("a large body in many chunks is read whole; past the parse limit usage is estimated")
  void largeBodies() {
    String content = "word ".repeat(600_000); // 3 MB
    Buffer body = Buffer.buffer("{\"choices\":[{\"message\":{\"content\":\"" + content + "\"}}],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":9}}");
    Buffer[] chunks = new Buffer[(body.length() + 8191) / 8192];
    for (int i = 0; i < chunks.length; i++) {
      chunks[i] = body.getBuffer(i * 8192, Math.min(body.length(), (i + 1) * 8192));
    }
    assertThat(observe(chunks)).isEqualTo(new Usage(8, 9, false));

    String over = "x".repeat(JsonUsageObserver.MAX_PARSED_BYTES);
    JsonUsageObserver observer = new JsonUsageObserver(UsageFormat.OPENAI);
    observer.onChunk(Buffer.buffer("{\"usage\":{\"prompt_tokens\":8},\"pad\":\""));
    observer.onChunk(Buffer.buffer(over));
    observer.onChunk(Buffer.buffer("\"}"));
    observer.onEnd();
    assertThat(observer.reported()).isFalse();
    assertThat(observer.usage(3).estimated()).isTrue();
  }

  @Test
  @DisplayName("on thousands of near-miss bodies the streaming parse answers exactly what the full parse answered")
  void sameAnswersAsTheFullParse() {
    List<String> seeds = List.of(OPENAI, RESPONSES, ANTHROPIC,
        "{\"usage\":{\"prompt_tokens\":1},\"usage\":{\"completion_tokens\":2}}",
        "{\"choices\":[{\"usage\":{\"prompt_tokens\":9}}],\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}");
    int compared = 0;
    for (byte[] variant : JsonMutations.of(seeds, 3000, 7)) {
      Buffer body = Buffer.buffer(variant);
      Usage expected;
      try {
        expected = legacy(body);
      } catch (NullPointerException e) {
        // The old code crashed on a top-level null; the new one reports no usage (see nullBody).
        assertThat(observe(body)).isNull();
        continue;
      }
      assertThat(observe(body)).as(new String(variant, StandardCharsets.UTF_8)).isEqualTo(expected);
      compared++;
    }
    assertThat(compared).isGreaterThan(15_000);
  }
}
