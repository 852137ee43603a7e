package io.tollgate.config;

import java.time.Duration;

/**
 * The listening side.
 *
 * @param host          interface both ports bind to
 * @param port          proxy port; 0 means "any free port" (tests use it)
 * @param adminPort     admin API, metrics and health; 0 means "any free port"; never equal to {@code port}
 * @param eventLoops    Vert.x event loops, and proxy verticle instances: size by measurement
 * @param maxBodyBytes  largest request body accepted on proxy routes
 * @param shutdownGrace on SIGTERM, how long in-flight requests may take to finish
 */
public record ServerConfig(String host, int port, int adminPort, int eventLoops, long maxBodyBytes, Duration shutdownGrace) {
}
