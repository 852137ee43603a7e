package io.tollgate.loadtests.driver;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Locale;
import java.util.Set;

/** The request shapes the driver sends: OpenAI-style chat completions, as JSON or as SSE. */
public enum Scenario {
  /** A JSON chat completion. */
  CHAT(false, Set.of(200)),
  /** A streamed (SSE) chat completion: time to first chunk and total time are both recorded. */
  SSE(true, Set.of(200)),
  /** Like {@link #CHAT}, with keys spread over many accounts (pass a keys file). */
  MIXED(false, Set.of(200)),
  /** Like {@link #CHAT}, against keys whose limits or credits run out: 429 and 402 are outcomes, not errors. */
  OVERLIMIT(false, Set.of(200, 402, 429)),
  /** A JSON chat completion with a large prompt (see {@code --body-bytes}). */
  LARGE(false, Set.of(200));

  private final boolean streaming;
  private final Set<Integer> expected;

  Scenario(boolean streaming, Set<Integer> expected) {
    this.streaming = streaming;
    this.expected = expected;
  }

  public boolean streaming() {
    return streaming;
  }

  /** Statuses this scenario counts as outcomes rather than errors. */
  public Set<Integer> expected() {
    return expected;
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Scenario of(String name) {
    try {
      return valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown scenario '" + name + "' (known: chat, sse, mixed, overlimit, large)");
    }
  }

  /** The body every request of a run carries, encoded once: a user message padded to about {@code bodyBytes}. */
  public Buffer body(int bodyBytes) {
    JsonObject body = new JsonObject().put("model", "gpt-4o-mini").put("max_tokens", 16);
    if (streaming) {
      // No stream_options: like most clients, so a metered gateway adds include_usage and drops the extra chunk.
      body.put("stream", true);
    }
    String base = body.copy().put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", ""))).encode();
    int padding = Math.max(16, bodyBytes - base.length());
    StringBuilder content = new StringBuilder(padding);
    String words = "the quick brown fox jumps over the lazy dog ";
    while (content.length() < padding) {
      content.append(words, 0, Math.min(words.length(), padding - content.length()));
    }
    body.put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", content.toString())));
    return body.toBuffer();
  }
}
