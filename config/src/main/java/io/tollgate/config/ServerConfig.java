package io.tollgate.config;

import java.time.Duration;

/**
 * The listening side.
 *
 * @param host          interface the proxy port binds to
 * @param adminHost     interface the admin port (admin API, metrics, health) binds to; loopback by default, so
 *                      the admin API is reachable from elsewhere only when an operator says so
 * @param port          proxy port; 0 means "any free port" (tests use it)
 * @param adminPort     admin API, metrics and health; 0 means "any free port"; never equal to {@code port}
 * @param eventLoops    Vert.x event loops, and proxy verticle instances: size by measurement
 * @param maxBodyBytes  largest request body accepted on proxy routes
 * @param shutdownGrace on SIGTERM, how long in-flight requests may take to finish
 * @param maxConnections      open connections the proxy port accepts at once; more are closed on arrival
 * @param adminMaxConnections the same for the admin port, counted apart so a flooded proxy port leaves it reachable
 * @param headerTimeout       how long a connection may take to deliver a complete request head (request line
 *                            and headers), from its opening or from the end of its previous response
 */
public record ServerConfig(String host, String adminHost, int port, int adminPort, int eventLoops, long maxBodyBytes,
                           Duration shutdownGrace, int maxConnections, int adminMaxConnections, Duration headerTimeout) {

  /** With the default connection limits and header timeout. */
  public ServerConfig(String host, String adminHost, int port, int adminPort, int eventLoops, long maxBodyBytes,
                      Duration shutdownGrace) {
    this(host, adminHost, port, adminPort, eventLoops, maxBodyBytes, shutdownGrace, (int) Defaults.MAX_CLIENT_CONNECTIONS,
        (int) Defaults.ADMIN_MAX_CLIENT_CONNECTIONS, Duration.ofMillis(Defaults.HEADER_TIMEOUT_MS));
  }

  /** The same settings on other ports. */
  public ServerConfig withPorts(int port, int adminPort) {
    return new ServerConfig(host, adminHost, port, adminPort, eventLoops, maxBodyBytes, shutdownGrace, maxConnections,
        adminMaxConnections, headerTimeout);
  }
}
