package io.tollgate.gateway.metering;

/** Tokens a response used: reported by the upstream, or estimated by the gateway. */
record Usage(long inputTokens, long outputTokens, boolean estimated) {
}
