package io.tollgate.gateway.measure;

import io.vertx.core.buffer.Buffer;

/** Watches a response body as it streams to the client, and may reshape it (SSE only). */
public interface UsageObserver {

  /** What to pass on for this chunk (possibly empty). */
  Buffer onChunk(Buffer chunk);

  /** What is left to pass on at the end (possibly empty). */
  Buffer onEnd();

  /** Reported usage if the upstream gave one, else an estimate from what streamed. */
  Usage usage(long inputEstimate);

  /** True when the upstream reported usage. */
  boolean reported();
}
