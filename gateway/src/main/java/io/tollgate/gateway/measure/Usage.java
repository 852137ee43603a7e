package io.tollgate.gateway.measure;

/** Tokens a response used: reported by the upstream, or estimated by the gateway. */
public record Usage(long inputTokens, long outputTokens, boolean estimated) {
}
