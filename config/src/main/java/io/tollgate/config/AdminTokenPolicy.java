package io.tollgate.config;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Refuses an admin token that is easy to guess (short, or printed in Tollgate's own documentation)
 * when the admin API is reachable from other machines. On a loopback-only admin API any token is
 * accepted: only local processes can try it, and a quick local trial should not need ceremony.
 */
final class AdminTokenPolicy {

  /** 32 characters: what {@code openssl rand -hex 16} gives; the docs suggest {@code -hex 32} (64 characters). */
  static final int MIN_LENGTH = 32;

  /**
   * Tokens that have appeared literally in the README, the docs or the example scripts. Anyone
   * who reads them can try them, whatever their length. Kept even after the docs stop showing
   * them, because copies of older instructions live on.
   */
  static final Set<String> PUBLISHED = Set.of("dev-admin-token", "bench-admin-token");

  private static final String HOW_TO_FIX = "generate one with `openssl rand -hex 32`, "
      + "or keep the admin API on this machine (server.adminHost: 127.0.0.1)";
  private static final Pattern IPV4 = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");

  private AdminTokenPolicy() {
  }

  static void check(Optional<Secret> token, String adminHost, Environment env) {
    if (token.isEmpty() || isLoopback(adminHost)) {
      return;
    }
    String value = token.get().reveal();
    String where = "the admin API listens on " + adminHost + ", beyond this machine";
    // The token itself is never echoed: only its length and why it is refused.
    if (PUBLISHED.contains(value)) {
      env.problem("TOLLGATE_ADMIN_TOKEN", "is a token printed in Tollgate's documentation, and " + where + ": "
          + HOW_TO_FIX);
    } else if (value.length() < MIN_LENGTH) {
      env.problem("TOLLGATE_ADMIN_TOKEN", "is " + value.length() + " characters, fewer than " + MIN_LENGTH
          + ", and " + where + ": " + HOW_TO_FIX);
    }
  }

  /**
   * Whether {@code host} binds to loopback only: {@code localhost}, an address in 127.0.0.0/8 or
   * {@code ::1}. Other host names count as not loopback (no DNS lookup at startup decides it).
   */
  static boolean isLoopback(String host) {
    String h = host.trim().toLowerCase(Locale.ROOT);
    if (h.startsWith("[") && h.endsWith("]")) {
      h = h.substring(1, h.length() - 1);
    }
    if (h.equals("localhost")) {
      return true;
    }
    if (IPV4.matcher(h).matches()) {
      return h.startsWith("127.");
    }
    if (!h.contains(":")) {
      return false;
    }
    try {
      // An IPv6 literal: parsed, never looked up.
      return InetAddress.getByName(h).isLoopbackAddress();
    } catch (UnknownHostException | SecurityException notAnAddress) {
      return false;
    }
  }
}
