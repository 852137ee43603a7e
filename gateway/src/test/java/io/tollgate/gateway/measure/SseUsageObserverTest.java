package io.tollgate.gateway.measure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import io.tollgate.config.UsageFormat;
import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("SSE responses: events framed without regexes and read by a streaming parse, with the answers the old observer gave")
class SseUsageObserverTest {

  private static final String OPENAI = """
      data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

      data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hé 😀 "}}]}

      : keep-alive

      data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"world"},"finish_reason":"stop"}]}

      data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":75,"completion_tokens":16,"total_tokens":91}}

      data: [DONE]

      """;
  private static final String OPENAI_USAGE_ON_CONTENT = "data: {\"choices\":[{\"delta\":{\"content\":\"abc\"}}]}\r\n\r\n"
      + "data: {\"choices\":[{\"delta\":{\"content\":\"def\"}}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\r\n\r\n"
      + "data: [DONE]\r\n\r\n";
  private static final String ANTHROPIC = """
      event: message_start
      data: {"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":25,"cache_read_input_tokens":5,"output_tokens":1}}}

      event: ping
      data: {"type": "ping"}

      event: content_block_delta
      data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

      event: message_delta
      data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":15}}

      event: message_stop
      data: {"type":"message_stop"}

      """;

  /** The result of one observer over a stream: everything it passed on, its usage, and what it could not read. */
  private record Seen(String passedOn, Usage usage, boolean reported, int malformed) {
  }

  private static Seen observe(UsageFormat format, boolean drop, List<Buffer> chunks) {
    SseUsageObserver observer = new SseUsageObserver(format, drop);
    Buffer out = Buffer.buffer();
    for (Buffer chunk : chunks) {
      out.appendBuffer(observer.onChunk(chunk));
    }
    out.appendBuffer(observer.onEnd());
    return new Seen(out.toString(StandardCharsets.UTF_8), observer.usage(99), observer.reported(), observer.malformedEvents());
  }

  private static Seen legacy(UsageFormat format, boolean drop, List<Buffer> chunks) {
    LegacySseUsageObserver observer = new LegacySseUsageObserver(format, drop);
    Buffer out = Buffer.buffer();
    for (Buffer chunk : chunks) {
      out.appendBuffer(observer.onChunk(chunk));
    }
    out.appendBuffer(observer.onEnd());
    return new Seen(out.toString(StandardCharsets.UTF_8), observer.usage(99), observer.reported(), observer.malformedEvents());
  }

  private static List<Buffer> oneChunkPerEvent(String stream) {
    List<Buffer> chunks = new ArrayList<>();
    for (String event : stream.split("(?<=\n\n)")) {
      chunks.add(Buffer.buffer(event));
    }
    return chunks;
  }

  /** The stream's bytes cut at random places: inside markers, inside JSON, inside UTF-8 sequences. */
  private static List<Buffer> randomChunks(byte[] stream, Random random) {
    List<Buffer> chunks = new ArrayList<>();
    int at = 0;
    while (at < stream.length) {
      int len = Math.min(stream.length - at, 1 + random.nextInt(random.nextBoolean() ? 4 : 120));
      chunks.add(Buffer.buffer().appendBytes(stream, at, len));
      at += len;
    }
    return chunks;
  }

  @Test
  @DisplayName("OpenAI: usage from the usage-only chunk, passed through untouched, or dropped when the gateway asked for it")
  void openAi() {
    Seen pass = observe(UsageFormat.OPENAI, false, oneChunkPerEvent(OPENAI));
    assertThat(pass.passedOn()).isEqualTo(OPENAI);
    assertThat(pass.usage()).isEqualTo(new Usage(75, 16, false));
    assertThat(pass.malformed()).isZero();

    Seen drop = observe(UsageFormat.OPENAI, true, oneChunkPerEvent(OPENAI));
    assertThat(drop.passedOn()).doesNotContain("\"usage\"").contains("world").endsWith("data: [DONE]\n\n");
    assertThat(drop.usage()).isEqualTo(new Usage(75, 16, false));
  }

  @Test
  @DisplayName("OpenAI: usage riding on a content chunk is read and that chunk is kept; CRLF framing works")
  void usageOnContentChunk() {
    Seen drop = observe(UsageFormat.OPENAI, true, oneChunkPerEvent(OPENAI_USAGE_ON_CONTENT));
    assertThat(drop.usage()).isEqualTo(new Usage(5, 2, false));
    assertThat(drop.passedOn()).contains("\"usage\"").contains("def");
  }

  @Test
  @DisplayName("Anthropic: input (with cache reads) from message_start, cumulative output from message_delta")
  void anthropic() {
    Seen seen = observe(UsageFormat.ANTHROPIC, false, oneChunkPerEvent(ANTHROPIC));
    assertThat(seen.usage()).isEqualTo(new Usage(30, 15, false));
    assertThat(seen.passedOn()).isEqualTo(ANTHROPIC);
  }

  @Test
  @DisplayName("no usage: content characters are counted into the estimate; malformed events are counted and passed on")
  void estimates() {
    String stream = "data: {\"choices\":[{\"delta\":{\"content\":\"12345678\"}},{\"delta\":{\"content\":\"1234\"}}]}\n\n"
        + "data: {\"choices\":[{\"delta\":{\"content\":\"12\"}}]\n\n"
        + "data: [1,2]\n\n"
        + "data: {\"a\":1} {}\n\n"
        + "data: {\"choices\":\n"
        + "data: [{\"delta\":{\"content\":\"123\"}}]}\n\n";
    Seen seen = observe(UsageFormat.OPENAI, false, oneChunkPerEvent(stream));
    assertThat(seen.reported()).isFalse();
    assertThat(seen.usage()).isEqualTo(new Usage(99, (8 + 4 + 3 + 3) / 4, true));
    assertThat(seen.malformed()).isEqualTo(3);
    assertThat(seen.passedOn()).isEqualTo(stream);
    assertThat(seen).isEqualTo(legacy(UsageFormat.OPENAI, false, oneChunkPerEvent(stream)));
  }

  @Test
  @DisplayName("a null data value or a null Anthropic type is a malformed or ignored event (the old observer threw there)")
  void nulls() {
    assertThatCode(() -> observe(UsageFormat.OPENAI, false, List.of(Buffer.buffer("data: null\n\n")))).doesNotThrowAnyException();
    assertThat(observe(UsageFormat.OPENAI, false, List.of(Buffer.buffer("data: null\n\n"))).malformed()).isEqualTo(1);
    Seen seen = observe(UsageFormat.ANTHROPIC, false, List.of(Buffer.buffer("data: {\"type\":null,\"usage\":{\"output_tokens\":3}}\n\n")));
    assertThat(seen.reported()).isFalse();
    assertThat(seen.malformed()).isZero();
  }

  @Test
  @DisplayName("a repeated key counts with its last value, at every level read, as in the old observer")
  void duplicates() {
    record Case(UsageFormat format, String data, Usage expected) {
    }
    for (Case c : List.of(
        new Case(UsageFormat.ANTHROPIC, "{\"type\":\"ping\",\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3}}", new Usage(0, 3, false)),
        new Case(UsageFormat.ANTHROPIC, "{\"type\":\"message_delta\",\"type\":\"ping\",\"usage\":{\"output_tokens\":3}}", new Usage(99, 0, true)),
        new Case(UsageFormat.ANTHROPIC, "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3},\"usage\":{\"output_tokens\":5}}", new Usage(0, 5, false)),
        new Case(UsageFormat.ANTHROPIC, "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":3},\"usage\":7}", new Usage(99, 0, true)),
        new Case(UsageFormat.ANTHROPIC, "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":4}},\"message\":{}}", new Usage(99, 0, true)),
        new Case(UsageFormat.ANTHROPIC, "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":4},\"usage\":{\"input_tokens\":6}}}", new Usage(6, 0, false)),
        new Case(UsageFormat.ANTHROPIC, "{\"type\":\"content_block_delta\",\"delta\":{\"text\":\"abcdefgh\"},\"delta\":{\"text\":\"ab\"}}", new Usage(99, 1, true)),
        new Case(UsageFormat.ANTHROPIC, "{\"type\":\"content_block_delta\",\"delta\":{\"text\":\"abcdefgh\",\"text\":5}}", new Usage(99, 0, true)),
        new Case(UsageFormat.OPENAI, "{\"choices\":[{\"delta\":{\"content\":\"abcdefgh\"}}],\"choices\":[{\"delta\":{\"content\":\"ab\"}}]}", new Usage(99, 1, true)),
        new Case(UsageFormat.OPENAI, "{\"choices\":[{\"delta\":{\"content\":\"abcdefgh\"},\"delta\":{}}]}", new Usage(99, 0, true)),
        new Case(UsageFormat.OPENAI, "{\"choices\":[{\"delta\":{\"content\":\"abcdefgh\",\"content\":null}}]}", new Usage(99, 0, true)),
        new Case(UsageFormat.OPENAI, "{\"usage\":{\"prompt_tokens\":1},\"usage\":{\"prompt_tokens\":2},\"choices\":[]}", new Usage(2, 0, false)),
        new Case(UsageFormat.OPENAI, "{\"usage\":{\"prompt_tokens\":1},\"usage\":[]}", new Usage(99, 0, true)))) {
      List<Buffer> chunks = List.of(Buffer.buffer("data: " + c.data() + "\n\n"));
      Seen seen = observe(c.format(), true, chunks);
      assertThat(seen.usage()).as(c.data()).isEqualTo(c.expected());
      assertThat(seen).as(c.data()).isEqualTo(legacy(c.format(), true, chunks));
    }
    List<Buffer> lastChoicesEmpty = List.of(Buffer.buffer(
        "data: {\"choices\":[{\"delta\":{}}],\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n"));
    assertThat(observe(UsageFormat.OPENAI, true, lastChoicesEmpty).passedOn()).as("the usage-only chunk is dropped").isEmpty();
    assertThat(observe(UsageFormat.OPENAI, true, lastChoicesEmpty)).isEqualTo(legacy(UsageFormat.OPENAI, true, lastChoicesEmpty));
  }

  @Test
  @DisplayName("event ends are found across chunk boundaries, however the stream is cut")
  void framing() {
    assertThat(SseUsageObserver.eventEnd("a\r\n\r\nb\n\n", 0)).isEqualTo(1);
    assertThat(SseUsageObserver.eventEnd("a\n\nb\r\n\r\n", 0)).isEqualTo(1);
    assertThat(SseUsageObserver.eventEnd("a\r\n\r", 0)).isEqualTo(-1);
    assertThat(SseUsageObserver.dataOf("event: x\r\ndata: {\"a\":\r\ndata:1}\r\nid: 3")).isEqualTo("{\"a\":1}");
    assertThat(SseUsageObserver.dataOf("data:x\r\r\ndata")).isEqualTo("x\r");
    Random random = new Random(3);
    for (String stream : List.of(OPENAI, OPENAI_USAGE_ON_CONTENT, ANTHROPIC)) {
      byte[] bytes = stream.getBytes(StandardCharsets.UTF_8);
      UsageFormat format = stream == ANTHROPIC ? UsageFormat.ANTHROPIC : UsageFormat.OPENAI;
      Seen whole = observe(format, true, oneChunkPerEvent(stream));
      for (int i = 0; i < 200; i++) {
        List<Buffer> chunks = randomChunks(bytes, random);
        // A multi-byte character cut between chunks is decoded per chunk, as before: compare with the old observer.
        assertThat(observe(format, true, chunks)).isEqualTo(legacy(format, true, chunks));
        assertThat(observe(format, false, chunks).usage()).isEqualTo(whole.usage());
      }
    }
  }

  @Test
  @DisplayName("on thousands of near-miss streams, cut at random, the new observer answers exactly what the old one did")
  void sameAnswersAsTheOldObserver() {
    Random random = new Random(5);
    int compared = 0;
    int oldCrashes = 0;
    List<String> seeds = List.of(OPENAI, OPENAI_USAGE_ON_CONTENT, ANTHROPIC);
    for (byte[] variant : JsonMutations.of(seeds, 1500, 13)) {
      String text = new String(variant, StandardCharsets.UTF_8);
      for (UsageFormat format : List.of(UsageFormat.OPENAI, UsageFormat.ANTHROPIC)) {
        for (boolean drop : new boolean[] {false, true}) {
          List<Buffer> chunks = randomChunks(variant, random);
          Seen expected;
          try {
            expected = legacy(format, drop, chunks);
          } catch (NullPointerException | ClassCastException e) {
            // The old observer crashed on a null value (see nulls); the new one must not.
            oldCrashes++;
            assertThatCode(() -> observe(format, drop, chunks)).doesNotThrowAnyException();
            continue;
          }
          assertThat(observe(format, drop, chunks)).as(format + " drop=" + drop + ":\n" + text).isEqualTo(expected);
          compared++;
        }
      }
    }
    assertThat(compared).isGreaterThan(15_000);
    assertThat(oldCrashes).isLessThan(compared / 10);
  }
}
