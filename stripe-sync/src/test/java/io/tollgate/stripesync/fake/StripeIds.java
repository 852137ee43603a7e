package io.tollgate.stripesync.fake;

import java.security.SecureRandom;

/** Ids shaped like Stripe's test-mode ids: {@code sub_1Qx...}, {@code cs_test_a1...}, {@code evt_1Qx...}. */
public final class StripeIds {

  private static final String BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  private static final SecureRandom RANDOM = new SecureRandom();

  private StripeIds() {
  }

  /** A fresh id with this prefix ({@code "sub"} gives {@code sub_1...}, 24 characters after the underscore). */
  public static String next(String prefix) {
    if (prefix.equals("cs")) {
      return "cs_test_a1" + random(48);
    }
    return prefix + "_1" + random(23);
  }

  static String random(int length) {
    StringBuilder out = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      out.append(BASE62.charAt(RANDOM.nextInt(BASE62.length())));
    }
    return out.toString();
  }
}
