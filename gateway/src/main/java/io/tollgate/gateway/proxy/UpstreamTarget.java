package io.tollgate.gateway.proxy;

import io.tollgate.config.RouteConfig;
import io.tollgate.config.UpstreamAuth;
import java.net.URI;
import java.util.Optional;

/**
 * A route's upstream resolved once at startup: where to connect, how to rewrite the path and
 * which credential header to inject. The credential value stays inside this object and is only
 * ever written into the upstream request's headers.
 */
record UpstreamTarget(String prefix, String host, int port, boolean ssl, String basePath,
                      Optional<String> credentialHeader, Optional<String> credentialValue) {

  static UpstreamTarget of(RouteConfig route) {
    URI upstream = route.upstream();
    boolean ssl = "https".equalsIgnoreCase(upstream.getScheme());
    int port = upstream.getPort() != -1 ? upstream.getPort() : (ssl ? 443 : 80);
    String path = upstream.getRawPath() == null || upstream.getRawPath().isEmpty() ? "/" : upstream.getRawPath();
    if (!path.endsWith("/")) {
      path = path + "/";
    }
    Optional<String> header = Optional.empty();
    Optional<String> value = Optional.empty();
    if (route.upstreamKey().isPresent() && route.upstreamAuth() != UpstreamAuth.NONE) {
      String secret = route.upstreamKey().get().reveal();
      if (route.upstreamAuth() == UpstreamAuth.X_API_KEY) {
        header = Optional.of("x-api-key");
        value = Optional.of(secret);
      } else {
        header = Optional.of("authorization");
        value = Optional.of("Bearer " + secret);
      }
    }
    return new UpstreamTarget(route.prefix(), upstream.getHost(), port, ssl, path, header, value);
  }

  /** {@code /v1/chat/completions?x=1} under prefix {@code /v1/} → {@code <basePath>chat/completions?x=1}. */
  String upstreamUri(String clientUri) {
    return basePath + clientUri.substring(prefix.length());
  }

  @Override
  public String toString() {
    // Never print the credential.
    return "UpstreamTarget[" + prefix + " -> " + (ssl ? "https" : "http") + "://" + host + ":" + port + basePath + "]";
  }
}
