package io.tollgate.config;

import java.time.Duration;

/**
 * Hot-path metering settings ({@code metering:} in the file; every key optional).
 *
 * @param shards               usage-stream shards = Redis hash tags accounts are spread over; fixed once accounts exist
 * @param reservationTtl       after this, a reservation whose gateway never settled is refunded by the sweeper
 * @param keyCacheTtl          how long a looked-up key is trusted without asking Postgres again (revocations are pushed sooner)
 * @param negativeCacheTtl     how long an unknown key is remembered as unknown
 * @param failedAuthPerMinute  failed authentications allowed per client IP per minute before 429
 * @param defaultMaxTokens     output tokens reserved when a request gives no max_tokens
 * @param keyRotationOverlap   how long a rotated-out key keeps working
 * @param lastUsedFlush        how often keys' last-use times are written to Postgres (one statement per flush)
 * @param flushInterval        how often the usage stream is drained into Postgres
 * @param flushBatchSize       usage events per Postgres statement
 * @param claimIdle            how long an entry may sit unacknowledged with a consumer before another takes it over
 * @param clientAbort          how a forwarded request whose client hung up is charged
 * @param abortDrainTimeout    with {@code drain}: how long the upstream's answer is read after the client left
 * @param abortDrainMaxBytes   with {@code drain}: how much of it is read after the client left
 */
public record MeteringConfig(int shards, Duration reservationTtl, Duration keyCacheTtl, Duration negativeCacheTtl,
                             int failedAuthPerMinute, long defaultMaxTokens, Duration keyRotationOverlap,
                             Duration lastUsedFlush, Duration flushInterval, int flushBatchSize, Duration claimIdle,
                             ClientAbortPolicy clientAbort, Duration abortDrainTimeout, long abortDrainMaxBytes) {

  /** The values used when the file has no {@code metering:} section. */
  public static MeteringConfig defaults() {
    return Defaults.metering();
  }
}
