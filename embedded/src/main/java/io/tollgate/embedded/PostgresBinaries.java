package io.tollgate.embedded;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.net.URLConnection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;

/**
 * Unpacks the PostgreSQL distribution that the zonky binaries artifact ships as a {@code .txz}
 * on the classpath, once, into a directory of its own; a marker file records a complete unpack.
 */
final class PostgresBinaries {

  private PostgresBinaries() {
  }

  static Path unpack(Path parent) {
    String resource = "postgres-" + os() + "-" + arch() + ".txz";
    URL url = PostgresBinaries.class.getClassLoader().getResource(resource);
    if (url == null) {
      throw new IllegalStateException("no embedded PostgreSQL binaries for " + os() + "/" + arch()
          + " on the classpath (" + resource + "); set DATABASE_URL to use an external PostgreSQL");
    }
    try {
      URLConnection connection = url.openConnection();
      long size = connection.getContentLengthLong();
      Path target = parent.resolve("bin-" + size);
      Path marker = target.resolve(".complete");
      if (Files.exists(marker)) {
        return target;
      }
      deleteRecursively(target);
      Files.createDirectories(target);
      try (InputStream in = new BufferedInputStream(connection.getInputStream());
           TarArchiveInputStream tar = new TarArchiveInputStream(new XZCompressorInputStream(in))) {
        TarArchiveEntry entry;
        while ((entry = tar.getNextEntry()) != null) {
          Path out = target.resolve(entry.getName()).normalize();
          if (!out.startsWith(target)) {
            throw new IOException("archive entry escapes the target directory: " + entry.getName());
          }
          if (entry.isDirectory()) {
            Files.createDirectories(out);
          } else if (entry.isSymbolicLink()) {
            Files.createDirectories(out.getParent());
            Files.deleteIfExists(out);
            Files.createSymbolicLink(out, Path.of(entry.getLinkName()));
          } else {
            Files.createDirectories(out.getParent());
            Files.copy(tar, out, StandardCopyOption.REPLACE_EXISTING);
            Files.setPosixFilePermissions(out, permissions(entry.getMode()));
          }
        }
      }
      try (var dirs = Files.walk(target)) {
        for (Path d : (Iterable<Path>) dirs.filter(Files::isDirectory)::iterator) {
          Files.setPosixFilePermissions(d, permissions(0755));
        }
      }
      Files.createFile(marker);
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException("could not unpack embedded PostgreSQL into " + parent + ": " + e.getMessage(), e);
    }
  }

  /** Readable (and, where the archive says so, executable) by everyone: the server may run as nobody. */
  private static Set<PosixFilePermission> permissions(int mode) {
    Set<PosixFilePermission> perms = EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.GROUP_READ, PosixFilePermission.OTHERS_READ);
    if ((mode & 0111) != 0) {
      perms.add(PosixFilePermission.OWNER_EXECUTE);
      perms.add(PosixFilePermission.GROUP_EXECUTE);
      perms.add(PosixFilePermission.OTHERS_EXECUTE);
    }
    return perms;
  }

  static void deleteRecursively(Path path) throws IOException {
    if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (var walk = Files.walk(path)) {
      for (Path p : (Iterable<Path>) walk.sorted(java.util.Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static String os() {
    String name = System.getProperty("os.name").toLowerCase(Locale.ROOT);
    if (name.contains("mac")) {
      return "darwin";
    }
    return name.contains("win") ? "windows" : "linux";
  }

  private static String arch() {
    String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
    return switch (arch) {
      case "amd64", "x86_64" -> "x86_64";
      case "aarch64", "arm64" -> "arm_64";
      default -> arch;
    };
  }
}
