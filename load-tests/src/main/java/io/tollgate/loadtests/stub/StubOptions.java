package io.tollgate.loadtests.stub;

import java.time.Duration;

/**
 * How the stub upstream behaves by default; each request can override these with
 * {@code x-stub-*} headers (see {@link StubUpstream}).
 *
 * @param chunks           SSE content chunks per streamed completion
 * @param completionTokens completion tokens reported (capped by the request's max_tokens)
 */
public record StubOptions(String host, int port, Duration latency, int chunks, Duration chunkDelay, int completionTokens) {

  public static StubOptions defaults() {
    return new StubOptions("127.0.0.1", 9100, Duration.ZERO, 5, Duration.ZERO, 16);
  }

  public StubOptions withPort(int port) {
    return new StubOptions(host, port, latency, chunks, chunkDelay, completionTokens);
  }

  public StubOptions withHost(String host) {
    return new StubOptions(host, port, latency, chunks, chunkDelay, completionTokens);
  }

  public StubOptions withLatency(Duration latency) {
    return new StubOptions(host, port, latency, chunks, chunkDelay, completionTokens);
  }

  public StubOptions withChunks(int chunks, Duration chunkDelay) {
    return new StubOptions(host, port, latency, chunks, chunkDelay, completionTokens);
  }
}
