package io.tollgate.gateway.proxy;

import io.tollgate.config.RouteConfig;
import io.tollgate.config.UpstreamClientConfig;
import io.tollgate.config.UpstreamTls;
import io.vertx.core.net.ClientSSLOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import java.util.Optional;

/**
 * A route's TLS settings for Vert.x: its own {@code tls}, else {@code upstreamClient.tls}. Set on
 * the route's request options, so each route trusts only its own CA; Vert.x keeps one connection
 * pool per upstream and SSL settings, and fills in hostname verification and ALPN from the client.
 */
final class UpstreamSsl {

  private UpstreamSsl() {
  }

  /** Empty when the JVM's defaults apply (no CA file, no client certificate) or the upstream is plain HTTP. */
  static Optional<ClientSSLOptions> of(RouteConfig route, UpstreamClientConfig client) {
    UpstreamTls tls = route.tls().orElse(client.tls());
    if (!"https".equalsIgnoreCase(route.upstream().getScheme()) || !tls.customised()) {
      return Optional.empty();
    }
    ClientSSLOptions options = new ClientSSLOptions();
    tls.caFile().ifPresent(ca -> options.setTrustOptions(new PemTrustOptions().addCertPath(ca.toAbsolutePath().toString())));
    if (tls.certFile().isPresent() && tls.keyFile().isPresent()) {
      options.setKeyCertOptions(new PemKeyCertOptions()
          .setCertPath(tls.certFile().get().toAbsolutePath().toString())
          .setKeyPath(tls.keyFile().get().toAbsolutePath().toString()));
    }
    return Optional.of(options);
  }
}
