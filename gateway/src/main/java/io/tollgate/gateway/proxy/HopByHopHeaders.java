package io.tollgate.gateway.proxy;

import io.vertx.core.MultiMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Removes hop-by-hop fields (RFC 9110 §7.6.1): the fixed set, and every field that the
 * {@code Connection} header itself names, since those describe only the current connection.
 */
final class HopByHopHeaders {

  private static final Set<String> FIXED = Set.of(
      "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
      "te", "trailer", "transfer-encoding", "upgrade");

  private HopByHopHeaders() {
  }

  static void strip(MultiMap headers) {
    List<String> named = new ArrayList<>();
    for (String value : headers.getAll("connection")) {
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
    for (String name : FIXED) {
      headers.remove(name);
    }
  }
}
