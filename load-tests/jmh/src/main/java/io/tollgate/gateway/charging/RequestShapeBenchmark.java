package io.tollgate.gateway.charging;

import io.tollgate.config.UsageFormat;
import io.vertx.core.buffer.Buffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * Admission reads the request body: model, max_tokens, stream, and for a stream without
 * {@code include_usage} the body is rewritten to ask for it.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class RequestShapeBenchmark {

  private final Buffer chat = Buffer.buffer("{\"model\":\"gpt-4o-mini\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\","
      + "\"content\":\"" + "the quick brown fox jumps over the lazy dog ".repeat(5) + "\"}]}");
  private final Buffer stream = Buffer.buffer("{\"model\":\"gpt-4o-mini\",\"max_tokens\":16,\"stream\":true,\"messages\":[{\"role\":\"user\","
      + "\"content\":\"" + "the quick brown fox jumps over the lazy dog ".repeat(5) + "\"}]}");

  @Benchmark
  public RequestShape jsonChat() {
    return RequestShape.parse(chat, UsageFormat.OPENAI, 4096);
  }

  @Benchmark
  public RequestShape streamAddsIncludeUsage() {
    return RequestShape.parse(stream, UsageFormat.OPENAI, 4096);
  }
}
