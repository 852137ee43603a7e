package io.tollgate.config;

/**
 * What a metered request costs when its client hangs up after it was forwarded. In YAML
 * ({@code metering.clientAbort}): {@code drain} or {@code estimate}.
 */
public enum ClientAbortPolicy {
  /**
   * Keep reading the upstream's answer after the client is gone, within
   * {@code abortDrainTimeoutSeconds} and {@code abortDrainMaxBytes}, and charge the usage it
   * reports; when it cannot be read within them, charge as {@link #ESTIMATE} does.
   */
  DRAIN("drain"),
  /**
   * Cancel the upstream request at once and charge the reservation (the request's worst case),
   * or, for a stream cut after its first bytes, what was streamed.
   */
  ESTIMATE("estimate");

  private final String yamlName;

  ClientAbortPolicy(String yamlName) {
    this.yamlName = yamlName;
  }

  /** The spelling used in the configuration file. */
  public String yamlName() {
    return yamlName;
  }
}
