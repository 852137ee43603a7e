package io.tollgate.config;

import java.nio.file.Path;
import java.util.Optional;

/**
 * Trust and identity for TLS upstreams, as PEM files checked at startup. Without a CA file the
 * JVM's default trust store decides; with one, only that file's certificates are trusted.
 *
 * @param caFile   certificates (one or more, PEM) that upstream certificates must chain to
 * @param certFile client certificate chain (PEM) for upstreams that require mTLS; present exactly when {@code keyFile} is
 * @param keyFile  the client certificate's private key (PEM, PKCS#8 or PKCS#1)
 */
public record UpstreamTls(Optional<Path> caFile, Optional<Path> certFile, Optional<Path> keyFile) {

  /** No TLS settings: the JVM's trust store, no client certificate. */
  public static final UpstreamTls DEFAULT = new UpstreamTls(Optional.empty(), Optional.empty(), Optional.empty());

  /** Whether anything differs from the JVM's defaults. */
  public boolean customised() {
    return caFile.isPresent() || certFile.isPresent();
  }
}
