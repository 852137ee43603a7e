package io.tollgate.gateway.proxy;

import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import java.util.ArrayList;
import java.util.List;

/**
 * Removes hop-by-hop fields (RFC 9110 §7.6.1): the fixed set, and every field that the
 * {@code Connection} header itself names, since those describe only the current connection.
 */
final class HopByHopHeaders {

  /** Pre-hashed names (Netty AsciiStrings): removing them from every request and response hashes nothing. */
  private static final CharSequence CONNECTION = HttpHeaders.createOptimized("connection");
  private static final CharSequence[] FIXED = {
      CONNECTION, HttpHeaders.createOptimized("keep-alive"), HttpHeaders.createOptimized("proxy-connection"),
      HttpHeaders.createOptimized("proxy-authenticate"), HttpHeaders.createOptimized("proxy-authorization"),
      HttpHeaders.createOptimized("te"), HttpHeaders.createOptimized("trailer"),
      HttpHeaders.createOptimized("transfer-encoding"), HttpHeaders.createOptimized("upgrade")};

  private HopByHopHeaders() {
  }

  static void strip(MultiMap headers) {
    List<String> connection = headers.getAll(CONNECTION);
    if (!connection.isEmpty()) {
      removeNamed(headers, connection);
    }
    for (CharSequence name : FIXED) {
      headers.remove(name);
    }
  }

  private static void removeNamed(MultiMap headers, List<String> connection) {
    List<String> named = new ArrayList<>();
    for (String value : connection) {
      for (String token : value.split(",")) {
        String name = token.trim();
        if (!name.isEmpty()) {
          named.add(name);
        }
      }
    }
    for (String name : named) {
      headers.remove(name);
    }
  }
}
