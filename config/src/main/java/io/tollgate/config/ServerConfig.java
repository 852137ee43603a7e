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
 */
public record ServerConfig(String host, String adminHost, int port, int adminPort, int eventLoops, long maxBodyBytes, Duration shutdownGrace) {
}
