package io.tollgate.gateway.charging;

import io.tollgate.config.ClientAbortPolicy;
import io.tollgate.config.MeteringConfig;
import java.time.Duration;

/** {@code metering.clientAbort} and the bounds of a drain, as the hot path uses them. */
public record AbortPolicy(ClientAbortPolicy policy, Duration drainTimeout, long drainMaxBytes) {

  public static AbortPolicy of(MeteringConfig config) {
    return new AbortPolicy(config.clientAbort(), config.abortDrainTimeout(), config.abortDrainMaxBytes());
  }

  boolean drains() {
    return policy == ClientAbortPolicy.DRAIN;
  }
}
