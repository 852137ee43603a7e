package io.tollgate.embedded;

import com.sun.security.auth.module.UnixSystem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Optional;

/**
 * Where the embedded PostgreSQL keeps its binaries, cluster and log for a requested directory.
 *
 * <p>Normally that is the requested directory itself. When Tollgate runs as root the server runs
 * as {@code nobody}, which must be able to walk down to its files; a project cloned under
 * {@code /root} or a {@code mktemp -d} directory (mode 700) is not reachable for it. Rather than
 * loosen the permissions of the user's directories, the files then live in
 * {@code /var/tmp/tollgate-postgres/<hash of the requested path>}: {@code /var/tmp} survives
 * reboots, the shared parent belongs to root with mode 711 (nobody may pass through it but not
 * list it), and the same requested directory always maps to the same place, so data survives
 * restarts. A note in the requested directory says where the files went.
 */
final class PostgresHome {

  static final Path DEFAULT_BASE = Path.of("/var/tmp");
  static final String SHARED = "tollgate-postgres";
  static final String NOTE = "POSTGRES-DATA-LOCATION.txt";

  private PostgresHome() {
  }

  /** Where the files for {@code requested} live; no side effects. */
  static Path of(Path requested, boolean asNobody, Path base) {
    Path dir = requested.toAbsolutePath().normalize();
    if (!asNobody || firstUnsearchable(dir).isEmpty()) {
      return dir;
    }
    return base.toAbsolutePath().resolve(SHARED).resolve(hash(dir));
  }

  /**
   * Creates the home for {@code requested} (see {@link #of}) ready for a server running as nobody
   * when {@code asNobody}, and returns it. The user's directories are never chmod-ed.
   */
  static Path prepare(Path requested, boolean asNobody, Path base) throws IOException {
    Path dir = requested.toAbsolutePath().normalize();
    Files.createDirectories(dir);
    if (!asNobody) {
      return dir;
    }
    Optional<Path> blocked = firstUnsearchable(dir);
    if (blocked.isEmpty()) {
      return dir;
    }
    Path absBase = base.toAbsolutePath();
    Optional<Path> baseBlocked = firstUnsearchable(absBase.resolve(SHARED));
    if (baseBlocked.isPresent()) {
      throw new IOException("PostgreSQL runs as user nobody (Tollgate runs as root) and can reach neither " + dir
          + " (" + blocked.get() + " is private) nor " + absBase + " (" + baseBlocked.get() + " is private)");
    }
    Path shared = absBase.resolve(SHARED);
    if (!Files.exists(shared, LinkOption.NOFOLLOW_LINKS)) {
      try {
        Files.createDirectory(shared, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx--x--x")));
      } catch (java.nio.file.FileAlreadyExistsException raced) {
        // another Tollgate created it meanwhile: checked below like any existing one
      }
    }
    requireOwnedByUs(shared);
    Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwx--x--x"));
    Path home = shared.resolve(hash(dir));
    Files.createDirectories(home);
    requireOwnedByUs(home);
    Files.setPosixFilePermissions(home, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.writeString(home.resolve("origin"), dir + "\n", StandardCharsets.UTF_8);
    Files.writeString(dir.resolve(NOTE), """
        The embedded PostgreSQL for this directory keeps its files in
          %s
        Tollgate ran as root, so PostgreSQL runs as user nobody, and nobody cannot reach this
        directory (%s is private). Delete that directory to start with an empty database.
        """.formatted(home, blocked.get()), StandardCharsets.UTF_8);
    return home;
  }

  /** The first ancestor of {@code dir} that others may not search (pass through), if any. */
  static Optional<Path> firstUnsearchable(Path dir) {
    for (Path p = dir.getParent(); p != null; p = p.getParent()) {
      try {
        if (Files.exists(p) && !Files.getPosixFilePermissions(p).contains(PosixFilePermission.OTHERS_EXECUTE)) {
          return Optional.of(p);
        }
      } catch (IOException e) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  /** /var/tmp is writable by everyone: refuse a directory (or symlink) someone else planted there. */
  private static void requireOwnedByUs(Path p) throws IOException {
    BasicFileAttributes attrs = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    Object uid = Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    long ours = new UnixSystem().getUid();
    if (!attrs.isDirectory() || !(uid instanceof Integer owner && owner == ours)) {
      throw new IOException(p + " must be a directory owned by uid " + ours + " (it is "
          + (attrs.isSymbolicLink() ? "a symbolic link" : attrs.isDirectory() ? "owned by uid " + uid : "not a directory")
          + "); remove it and start again");
    }
  }

  private static String hash(Path dir) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(dir.toString().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
