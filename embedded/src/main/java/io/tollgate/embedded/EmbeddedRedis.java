package io.tollgate.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.embedded.RedisServer;

/**
 * A real redis-server (6.2, shipped inside the embedded-redis artifact) bound to loopback, with
 * its append-only file in {@code dir} so data survives restarts. A server an earlier process left
 * running on {@code dir} (kill -9 does not stop the child) is stopped before a new one starts
 * ({@link LeftoverRedis}), so two servers never share one directory.
 */
public final class EmbeddedRedis implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedRedis.class);

  private final RedisServer server;
  private final int port;
  private boolean closed;

  private EmbeddedRedis(RedisServer server, int port) {
    this.server = server;
    this.port = port;
  }

  /** Starts Redis on {@code port} (0 picks a free one) with its data in {@code dir}. Blocking. */
  public static EmbeddedRedis start(Path dir, int port) {
    int chosen = port == 0 ? FreePorts.pick() : port;
    try {
      Files.createDirectories(dir);
      LeftoverRedis.stopAll(dir);
      RedisServer server = RedisServer.newRedisServer()
          .port(chosen)
          .bind("127.0.0.1")
          .setting("dir " + dir.toAbsolutePath())
          .setting("pidfile " + dir.toAbsolutePath().resolve(LeftoverRedis.PID_FILE))
          .setting("appendonly yes")
          .setting("appendfsync everysec")
          .setting("save \"\"")
          .setting("protected-mode yes")
          .build();
      server.start();
      log.info("embedded Redis started on 127.0.0.1:{} (data in {})", chosen, dir.toAbsolutePath());
      return new EmbeddedRedis(server, chosen);
    } catch (IOException e) {
      throw new UncheckedIOException("could not start embedded Redis on port " + chosen + " in " + dir + ": " + e.getMessage(), e);
    }
  }

  public int port() {
    return port;
  }

  public String url() {
    return "redis://127.0.0.1:" + port;
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      server.stop();
    } catch (IOException e) {
      log.warn("embedded Redis did not stop cleanly: {}", e.toString());
    }
  }
}
