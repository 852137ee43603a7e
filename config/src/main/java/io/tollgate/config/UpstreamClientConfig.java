package io.tollgate.config;

import java.time.Duration;

/**
 * How the gateway talks to upstreams.
 *
 * @param responseTimeout longest wait for response headers once the request is sent
 * @param idleTimeout     longest silence on a connection (between SSE events, say) before it is cut
 */
public record UpstreamClientConfig(Duration connectTimeout, Duration idleTimeout, Duration responseTimeout,
                                   int maxConnectionsPerUpstream, boolean http2) {
}
