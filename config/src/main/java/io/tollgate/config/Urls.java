package io.tollgate.config;

import java.util.regex.Pattern;

/** URL helpers shared by validation and {@code toString}s: passwords never leave in clear. */
public final class Urls {

  private static final Pattern USERINFO_PASSWORD = Pattern.compile("^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@]*):[^@/]*@");

  private Urls() {
  }

  /** {@code redis://:pw@host} → {@code redis://:****@host}; URLs without a password are unchanged. */
  public static String mask(String url) {
    return USERINFO_PASSWORD.matcher(url).replaceFirst("$1:****@");
  }
}
