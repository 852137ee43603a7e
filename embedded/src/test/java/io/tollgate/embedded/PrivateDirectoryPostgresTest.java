package io.tollgate.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Comparator;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Embedded PostgreSQL in a private directory (a clone under /root or in mktemp -d)")
class PrivateDirectoryPostgresTest {

  @Test
  @DisplayName("starts under a mode-700 parent, leaves the parent's mode alone, and keeps its data across a restart")
  void privateParent() throws Exception {
    Path parent = Files.createTempDirectory("tollgate-private-");
    Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwx------"));
    Path dir = parent.resolve("postgres");
    try {
      try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, 0, false);
           Connection c = connect(pg);
           Statement s = c.createStatement()) {
        s.execute("CREATE TABLE private_probe (v text)");
        s.execute("INSERT INTO private_probe VALUES ('kept')");
        assertThat(pg.home()).isEqualTo(EmbeddedPostgres.home(dir));
      }
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(parent))).isEqualTo("rwx------");

      try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, 0, false);
           Connection c = connect(pg);
           Statement s = c.createStatement();
           ResultSet rs = s.executeQuery("SELECT v FROM private_probe")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getString(1)).isEqualTo("kept");
      }
    } finally {
      deleteTree(EmbeddedPostgres.home(dir));
      deleteTree(parent);
    }
  }

  @Test
  @DisplayName("starts in a directory whose path is longer than a Unix-domain socket path may be (107 bytes)")
  void longPath() throws Exception {
    Path parent = Files.createTempDirectory(Files.createDirectories(Path.of("target").toAbsolutePath()), "long-");
    Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path dir = parent.resolve("a-clone-in-a-deeply-nested-workspace-directory-".repeat(3)).resolve("postgres");
    assertThat(dir.toString().length()).isGreaterThan(107);
    try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir, 0, false);
         Connection c = connect(pg);
         Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT 1")) {
      assertThat(rs.next()).isTrue();
    } finally {
      deleteTree(EmbeddedPostgres.home(dir));
      deleteTree(parent);
    }
  }

  @Test
  @DisplayName("running as nobody, the files go to a place of our own outside the private directory, and the directory says where")
  void relocatedHome() throws Exception {
    Path parent = Files.createTempDirectory("tollgate-private-");
    Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwx------"));
    Path base = Files.createTempDirectory("tollgate-base-");
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path dir = parent.resolve("postgres");
    try {
      Path home = PostgresHome.prepare(dir, true, base);
      assertThat(home).isEqualTo(PostgresHome.of(dir, true, base));
      assertThat(home.startsWith(base.resolve("tollgate-postgres"))).isTrue();
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(home.getParent()))).isEqualTo("rwx--x--x");
      assertThat(Files.readString(dir.resolve(PostgresHome.NOTE))).contains(home.toString());
      assertThat(PostgresHome.prepare(dir, true, base)).isEqualTo(home);
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(parent))).isEqualTo("rwx------");
    } finally {
      deleteTree(parent);
      deleteTree(base);
    }
  }

  @Test
  @DisplayName("a symbolic link planted where the shared directory goes is refused, not followed")
  void plantedSymlinkRefused() throws Exception {
    Path parent = Files.createTempDirectory("tollgate-private-");
    Path base = Files.createTempDirectory("tollgate-base-");
    Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path elsewhere = Files.createTempDirectory("tollgate-elsewhere-");
    Files.createSymbolicLink(base.resolve("tollgate-postgres"), elsewhere);
    try {
      assertThatThrownBy(() -> PostgresHome.prepare(parent.resolve("postgres"), true, base))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("symbolic link");
      try (var listing = Files.list(elsewhere)) {
        assertThat(listing).isEmpty();
      }
    } finally {
      deleteTree(parent);
      deleteTree(base);
      deleteTree(elsewhere);
    }
  }

  private static Connection connect(EmbeddedPostgres pg) throws Exception {
    return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + pg.port() + "/tollgate?user=postgres");
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (var walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }
}
