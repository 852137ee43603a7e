package io.tollgate.loadtests.driver;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * What a run measured. Used from the driver's event loop only, so nothing here is synchronized.
 * Latencies are recorded in microseconds.
 */
final class Recorder {

  static final long HIGHEST_MICROS = TimeUnit.SECONDS.toMicros(120);

  /** Open loop: from the time the request was due (coordinated-omission corrected); closed loop: from sending. */
  final Histogram latency = new Histogram(HIGHEST_MICROS, 3);
  /** From the moment the request was handed to the client to the end of the response. */
  final Histogram service = new Histogram(HIGHEST_MICROS, 3);
  /** SSE only: due time to the first body chunk. */
  final Histogram firstChunk = new Histogram(HIGHEST_MICROS, 3);
  final Map<String, Long> statuses = new TreeMap<>();
  final Map<String, Long> errors = new TreeMap<>();
  /** Every response of the run, warm-up included, by status: what a metered gateway admitted. */
  final Map<String, Long> allStatuses = new TreeMap<>();
  long measured;
  long lastCompletionNanos;

  void response(boolean measuredPhase, int status, boolean isError, String errorKind) {
    allStatuses.merge(Integer.toString(status), 1L, Long::sum);
    if (!measuredPhase) {
      return;
    }
    measured++;
    statuses.merge(Integer.toString(status), 1L, Long::sum);
    if (isError) {
      errors.merge(errorKind, 1L, Long::sum);
    }
  }

  void failure(boolean measuredPhase, String kind) {
    allStatuses.merge("failed", 1L, Long::sum);
    if (measuredPhase) {
      measured++;
      errors.merge(kind, 1L, Long::sum);
    }
  }

  void timing(long dueNanos, long sentNanos, long firstChunkNanos, long endNanos) {
    latency.recordValue(micros(endNanos - dueNanos));
    service.recordValue(micros(endNanos - sentNanos));
    if (firstChunkNanos > 0) {
      firstChunk.recordValue(micros(firstChunkNanos - dueNanos));
    }
    lastCompletionNanos = Math.max(lastCompletionNanos, endNanos);
  }

  long errorCount() {
    return errors.values().stream().mapToLong(Long::longValue).sum();
  }

  private static long micros(long nanos) {
    return Math.min(HIGHEST_MICROS, Math.max(0, nanos / 1000));
  }
}
