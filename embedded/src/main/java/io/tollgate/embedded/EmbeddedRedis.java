package io.tollgate.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.embedded.core.ExecutableProvider;

/**
 * A real redis-server (6.2, shipped inside the embedded-redis artifact) bound to loopback, with
 * its append-only file in {@code dir} so data survives restarts. A server an earlier process left
 * running on {@code dir} (kill -9 does not stop the child) is stopped before a new one starts
 * ({@link LeftoverRedis}), so two servers never share one directory.
 *
 * <p>The artifact only supplies the binary; the process is ours. The library's own launcher
 * registers a JVM shutdown hook that stops Redis at once on SIGTERM, while Tollgate's shutdown
 * hook is still letting in-flight requests finish and settle in Redis. Here Redis stops when
 * {@link #close()} says so; a shutdown hook stops it only if nobody has closed it within a minute,
 * so a forgotten instance does not outlive the JVM.
 */
public final class EmbeddedRedis implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedRedis.class);
  private static final long START_TIMEOUT_MS = 30_000;
  private static final long UNCLOSED_GRACE_SECONDS = 60;

  private final Process process;
  private final int port;
  private final CountDownLatch closed = new CountDownLatch(1);
  private final Thread safetyStop;

  private EmbeddedRedis(Process process, int port) {
    this.process = process;
    this.port = port;
    this.safetyStop = new Thread(this::stopIfNeverClosed, "embedded-redis-safety-stop");
  }

  /** Starts Redis on {@code port} (0 picks a free one) with its data in {@code dir}. Blocking. */
  public static EmbeddedRedis start(Path dir, int port) {
    int chosen = port == 0 ? FreePorts.pick() : port;
    Path home = dir.toAbsolutePath();
    Path logFile = home.resolve("redis.log");
    try {
      Files.createDirectories(home);
      LeftoverRedis.stopAll(dir);
      String executable = ExecutableProvider.newJarResourceProvider().get().getAbsolutePath();
      Process process = new ProcessBuilder(List.of(executable,
          "--port", String.valueOf(chosen), "--bind", "127.0.0.1", "--protected-mode", "yes",
          "--dir", home.toString(), "--pidfile", home.resolve(LeftoverRedis.PID_FILE).toString(), "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""))
          .directory(home.toFile())
          .redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
          .start();
      EmbeddedRedis redis = new EmbeddedRedis(process, chosen);
      redis.awaitListening(logFile);
      Runtime.getRuntime().addShutdownHook(redis.safetyStop);
      log.info("embedded Redis started on 127.0.0.1:{} (data in {})", chosen, home);
      return redis;
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

  /** Stops Redis (SIGTERM: it writes its append-only file and exits). Idempotent. */
  @Override
  public synchronized void close() {
    if (closed.getCount() == 0) {
      return;
    }
    stopProcess();
    closed.countDown();
    try {
      Runtime.getRuntime().removeShutdownHook(safetyStop);
    } catch (IllegalStateException shuttingDown) {
      // the JVM is exiting: the safety hook sees the latch and returns at once
    }
  }

  private void awaitListening(Path logFile) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_TIMEOUT_MS);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException("redis-server exited with code " + process.exitValue() + "; " + logTail(logFile));
      }
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
        return;
      } catch (IOException notYet) {
        sleep(50);
      }
    }
    stopProcess();
    throw new IOException("redis-server did not listen within " + START_TIMEOUT_MS + " ms; " + logTail(logFile));
  }

  private void stopIfNeverClosed() {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(UNCLOSED_GRACE_SECONDS);
    try {
      // A server already gone (stopped by a later start on its directory, say) needs no waiting.
      while (process.isAlive() && !closed.await(200, TimeUnit.MILLISECONDS)) {
        if (System.nanoTime() > deadline) {
          stopProcess();
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stopProcess();
    }
  }

  private void stopProcess() {
    process.destroy();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        log.warn("embedded Redis did not stop within 30 s of SIGTERM: killing it");
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }

  private static String logTail(Path logFile) {
    try {
      List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
      return "last lines of " + logFile + ":\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException e) {
      return "(no log at " + logFile + ")";
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while starting embedded Redis", e);
    }
  }
}
