package io.tollgate.config;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.util.Optional;

/**
 * Reads a {@code tls:} section ({@code upstreamClient.tls} or a route's) and opens its files at
 * startup, so a missing or malformed PEM file stops the gateway with its key path instead of
 * failing every request later as a TLS error.
 */
final class TlsReader {

  private TlsReader() {
  }

  static UpstreamTls read(YamlSection s) {
    Optional<Path> ca = certificates(s, "caFile");
    Optional<Path> cert = certificates(s, "certFile");
    Optional<Path> key = privateKey(s);
    if (s.has("certFile") != s.has("keyFile") && !s.misshapen()) {
      s.problem(s.has("certFile") ? "keyFile" : "certFile",
          "is required with " + (s.has("certFile") ? "certFile" : "keyFile") + " (a client certificate needs its private key)");
    }
    s.finish();
    return new UpstreamTls(ca, cert, key);
  }

  /** A PEM file holding at least one X.509 certificate. */
  private static Optional<Path> certificates(YamlSection s, String name) {
    Optional<Path> path = path(s, name);
    Optional<byte[]> bytes = path.flatMap(p -> contents(s, name, p));
    if (bytes.isEmpty()) {
      return Optional.empty();
    }
    try {
      if (CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes.get())).isEmpty()) {
        s.problem(name, "no certificate in " + path.get() + " (expected PEM: -----BEGIN CERTIFICATE-----)");
        return Optional.empty();
      }
    } catch (CertificateException e) {
      s.problem(name, "not a PEM certificate file: " + path.get() + " (" + e.getMessage() + ")");
      return Optional.empty();
    }
    return path;
  }

  /** A PEM private key; its content is never quoted in a message. */
  private static Optional<Path> privateKey(YamlSection s) {
    Optional<Path> path = path(s, "keyFile");
    Optional<byte[]> bytes = path.flatMap(p -> contents(s, "keyFile", p));
    if (bytes.isEmpty()) {
      return Optional.empty();
    }
    String text = new String(bytes.get(), StandardCharsets.US_ASCII);
    if (!text.contains("-----BEGIN") || !text.contains("PRIVATE KEY-----")) {
      s.problem("keyFile", "no PEM private key in " + path.get() + " (expected -----BEGIN PRIVATE KEY-----)");
      return Optional.empty();
    }
    return path;
  }

  private static Optional<Path> path(YamlSection s, String name) {
    Optional<String> text = s.string(name);
    if (text.isEmpty()) {
      return Optional.empty();
    }
    try {
      if (!text.get().isBlank()) {
        return Optional.of(Path.of(text.get()));
      }
      s.problem(name, "must not be empty");
    } catch (InvalidPathException e) {
      s.problem(name, "not a usable path: " + e.getReason());
    }
    return Optional.empty();
  }

  private static Optional<byte[]> contents(YamlSection s, String name, Path path) {
    try {
      return Optional.of(Files.readAllBytes(path));
    } catch (NoSuchFileException e) {
      s.problem(name, "no such file: " + path.toAbsolutePath());
    } catch (IOException | SecurityException e) {
      s.problem(name, "cannot read " + path.toAbsolutePath() + ": " + e);
    }
    return Optional.empty();
  }
}
