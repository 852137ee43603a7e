package io.tollgate.gateway.measure;

import io.tollgate.config.UsageFormat;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Reading usage from a whole response as it streams through: an OpenAI JSON completion, and an
 * SSE stream of {@code chunks} content events, a usage-only event and {@code [DONE]}, one network
 * chunk per event — passed through as is, or re-framed to drop the usage event the gateway asked
 * for on the client's behalf.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class UsageExtractionBenchmark {

  @Param({"5", "50"})
  public int chunks;

  private Buffer json;
  private List<Buffer> sse;

  @Setup
  public void responses() {
    JsonObject usage = new JsonObject().put("prompt_tokens", 75).put("completion_tokens", 16).put("total_tokens", 91);
    json = new JsonObject().put("id", "chatcmpl-1").put("object", "chat.completion").put("model", "gpt-4o-mini")
        .put("choices", new JsonArray().add(new JsonObject().put("index", 0).put("finish_reason", "stop")
            .put("message", new JsonObject().put("role", "assistant").put("content", "word ".repeat(chunks * 4)))))
        .put("usage", usage).toBuffer();
    sse = new ArrayList<>();
    for (int i = 0; i < chunks; i++) {
      JsonObject chunk = new JsonObject().put("id", "chatcmpl-1").put("object", "chat.completion.chunk").put("model", "gpt-4o-mini")
          .put("choices", new JsonArray().add(new JsonObject().put("index", 0)
              .put("delta", new JsonObject().put("content", "tok" + i + " ")).put("finish_reason", i == chunks - 1 ? "stop" : null)));
      sse.add(Buffer.buffer("data: " + chunk.encode() + "\n\n"));
    }
    sse.add(Buffer.buffer("data: " + new JsonObject().put("id", "chatcmpl-1").put("object", "chat.completion.chunk")
        .put("choices", new JsonArray()).put("usage", usage).encode() + "\n\n"));
    sse.add(Buffer.buffer("data: [DONE]\n\n"));
  }

  @Benchmark
  public Usage json() {
    JsonUsageObserver observer = new JsonUsageObserver(UsageFormat.OPENAI);
    observer.onChunk(json);
    observer.onEnd();
    return observer.usage(0);
  }

  @Benchmark
  public Usage ssePassThrough() {
    return sse(false);
  }

  @Benchmark
  public Usage sseDropUsageChunk() {
    return sse(true);
  }

  private Usage sse(boolean drop) {
    SseUsageObserver observer = new SseUsageObserver(UsageFormat.OPENAI, drop);
    for (Buffer b : sse) {
      observer.onChunk(b);
    }
    observer.onEnd();
    return observer.usage(0);
  }
}
