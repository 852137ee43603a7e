package io.tollgate.config;

import java.time.Duration;

/**
 * The listening side. Port 0 means "any free port" (tests use it).
 *
 * @param eventLoops   Vert.x event loops, and proxy verticle instances: size by measurement
 * @param maxBodyBytes largest request body accepted on proxy routes
 */
public record ServerConfig(String host, int port, int adminPort, int eventLoops, long maxBodyBytes, Duration shutdownGrace) {
}
