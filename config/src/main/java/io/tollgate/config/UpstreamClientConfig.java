package io.tollgate.config;

import java.time.Duration;

/**
 * How the gateway talks to upstreams.
 *
 * @param connectTimeout            TCP (and TLS) connect to an upstream
 * @param idleTimeout               longest silence on a connection (between SSE events, say) before it is cut
 * @param responseTimeout           longest wait for response headers once the request is sent
 * @param maxConnectionsPerUpstream keep-alive pool size per upstream host
 * @param http2                     negotiate HTTP/2 by ALPN with TLS upstreams
 * @param tls                       trust (and client certificate) for TLS upstreams of routes without their own {@code tls}
 */
public record UpstreamClientConfig(Duration connectTimeout, Duration idleTimeout, Duration responseTimeout,
                                   int maxConnectionsPerUpstream, boolean http2, UpstreamTls tls) {

  /** With the JVM's default trust for TLS upstreams. */
  public UpstreamClientConfig(Duration connectTimeout, Duration idleTimeout, Duration responseTimeout,
                              int maxConnectionsPerUpstream, boolean http2) {
    this(connectTimeout, idleTimeout, responseTimeout, maxConnectionsPerUpstream, http2, UpstreamTls.DEFAULT);
  }
}
