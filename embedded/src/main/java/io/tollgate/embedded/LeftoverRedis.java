package io.tollgate.embedded;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds a redis-server left running on a data directory by an earlier Tollgate that died without
 * stopping it (kill -9 leaves the child running), and stops it, so that two servers never write
 * one append-only file. A server is recognised by its pid file in the directory ({@link #PID_FILE},
 * written by Redis itself) and, on Linux, by every process whose command is a redis-server and
 * whose working directory is the data directory (Redis changes into its {@code dir}); the latter
 * also finds a server whose pid file is missing. Each is sent SIGTERM, on which Redis writes its
 * append-only file and exits; one that does not exit in time makes the start fail with a message
 * naming its pid.
 */
final class LeftoverRedis {

  static final String PID_FILE = "redis.pid";
  private static final long STOP_SECONDS = 30;
  private static final Logger log = LoggerFactory.getLogger(LeftoverRedis.class);
  private static final Path PROC = Path.of("/proc");

  private LeftoverRedis() {
  }

  /** Stops every redis-server still running on {@code dir}. Blocking. */
  static void stopAll(Path dir) {
    for (long pid : find(dir)) {
      stop(pid, dir);
    }
  }

  /** Pids of the live redis-servers on {@code dir}, whoever started them. */
  static List<Long> find(Path dir) {
    Path real;
    try {
      real = dir.toRealPath();
    } catch (IOException e) {
      return List.of();
    }
    TreeSet<Long> pids = new TreeSet<>();
    pidFromFile(real).filter(pid -> isRedisOn(pid, real)).ifPresent(pids::add);
    if (Files.isDirectory(PROC)) {
      try (Stream<Path> entries = Files.list(PROC)) {
        entries.map(p -> p.getFileName().toString())
            .filter(name -> name.chars().allMatch(Character::isDigit))
            .map(Long::parseLong)
            .filter(pid -> pid != ProcessHandle.current().pid() && isRedisOn(pid, real))
            .forEach(pids::add);
      } catch (IOException | java.io.UncheckedIOException e) {
        log.debug("could not list {}: {}", PROC, e.toString());
      }
    }
    return new ArrayList<>(pids);
  }

  private static Optional<Long> pidFromFile(Path dir) {
    Path file = dir.resolve(PID_FILE);
    try {
      String text = Files.readString(file, StandardCharsets.US_ASCII).trim();
      return text.isEmpty() || !text.chars().allMatch(Character::isDigit) ? Optional.empty() : Optional.of(Long.parseLong(text));
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  /**
   * Whether {@code pid} is a live redis-server on {@code dir}. With /proc: its command's file name
   * starts with "redis-server" and its working directory is {@code dir}. Without /proc (macOS) only
   * the command can be checked, which is enough for a pid named by the directory's own pid file.
   */
  private static boolean isRedisOn(long pid, Path dir) {
    Path proc = PROC.resolve(Long.toString(pid));
    if (Files.isDirectory(PROC)) {
      try {
        byte[] cmdline = Files.readAllBytes(proc.resolve("cmdline"));
        String first = new String(cmdline, StandardCharsets.UTF_8).split("[\\x00 ]", 2)[0];
        String name = first.substring(first.lastIndexOf('/') + 1);
        return name.startsWith("redis-server") && Files.readSymbolicLink(proc.resolve("cwd")).equals(dir);
      } catch (IOException | SecurityException e) {
        return false;
      }
    }
    return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
        .flatMap(h -> h.info().command())
        .map(c -> Path.of(c).getFileName().toString().startsWith("redis-server"))
        .orElse(false);
  }

  private static void stop(long pid, Path dir) {
    Optional<ProcessHandle> handle = ProcessHandle.of(pid);
    if (handle.isEmpty()) {
      return;
    }
    log.warn("a redis-server from an earlier run (pid {}) is still using {}: stopping it before starting a new one", pid, dir);
    handle.get().destroy();
    try {
      handle.get().onExit().get(STOP_SECONDS, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new IllegalStateException("a redis-server from an earlier run (pid " + pid + ") is still using " + dir
          + " and did not stop within " + STOP_SECONDS + " s of SIGTERM; stop it (kill " + pid + ") and start again");
    } catch (ExecutionException e) {
      throw new IllegalStateException("could not wait for redis-server pid " + pid + " to stop: " + e.getCause(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while stopping redis-server pid " + pid, e);
    }
  }
}
