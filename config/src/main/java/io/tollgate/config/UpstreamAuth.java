package io.tollgate.config;

/** How a route's upstream credential is sent: {@code Authorization: Bearer}, {@code x-api-key}, or not at all. */
public enum UpstreamAuth {
  BEARER, X_API_KEY, NONE
}
