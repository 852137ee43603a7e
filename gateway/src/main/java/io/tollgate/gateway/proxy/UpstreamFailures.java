package io.tollgate.gateway.proxy;

import io.tollgate.gateway.errors.GatewayFailure;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.StreamResetException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.security.GeneralSecurityException;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLException;

/** Maps what went wrong talking to an upstream to the status and code the client sees. */
final class UpstreamFailures {

  /** The upstream accepted the request but sent no response headers in time. */
  static final class ResponseTimeoutException extends TimeoutException {
    ResponseTimeoutException(long millis) {
      super("upstream sent no response within " + millis + " ms");
    }
  }

  private UpstreamFailures() {
  }

  static GatewayFailure classify(Throwable error, UpstreamTarget target) {
    String where = target.host() + ":" + target.port();
    Throwable cause = rootOf(error);
    if (cause instanceof LimitedReadStream.BodyTooLargeException tooLarge) {
      return new GatewayFailure(413, "invalid_request_error", "request_too_large", tooLarge.getMessage());
    }
    if (cause instanceof ResponseTimeoutException) {
      return GatewayFailure.gatewayTimeout(cause.getMessage() + " (" + where + ")");
    }
    if (cause instanceof TimeoutException || cause.getClass().getSimpleName().contains("Timeout")) {
      return GatewayFailure.gatewayTimeout("upstream " + where + " timed out: " + cause.getMessage());
    }
    if (cause instanceof ConnectException) {
      return GatewayFailure.badGateway("upstream_unreachable", "could not connect to upstream " + where + ": " + cause.getMessage());
    }
    if (cause instanceof UnknownHostException) {
      return GatewayFailure.badGateway("upstream_unreachable", "upstream host " + target.host() + " could not be resolved");
    }
    if (isTlsFailure(error)) {
      return GatewayFailure.badGateway("upstream_tls_error", "TLS handshake with upstream " + where + " failed: " + cause.getMessage());
    }
    if (cause instanceof HttpClosedException || cause instanceof StreamResetException) {
      return GatewayFailure.badGateway("upstream_connection_closed", "upstream " + where + " closed the connection before responding");
    }
    return GatewayFailure.badGateway("upstream_error", "request to upstream " + where + " failed: " + cause.getMessage());
  }

  /**
   * The TLS failure anywhere in the chain: an untrusted certificate surfaces as an
   * {@link SSLException} whose root cause is a certificate-path error, not an SSLException itself.
   */
  private static boolean isTlsFailure(Throwable error) {
    for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof SSLException || t instanceof GeneralSecurityException) {
        return true;
      }
    }
    return false;
  }

  private static Throwable rootOf(Throwable error) {
    Throwable current = error;
    while (current.getCause() != null && current.getCause() != current
        && !(current instanceof LimitedReadStream.BodyTooLargeException)) {
      current = current.getCause();
    }
    return current;
  }
}
