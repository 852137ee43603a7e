package io.tollgate.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/** URL helpers shared by validation and {@code toString}s, so that a password never leaves in clear. */
public final class Urls {

  private static final Pattern PASSWORD_PARAM = Pattern.compile("(?i)([?&]password=)[^&#]*");

  private Urls() {
  }

  /**
   * {@code redis://:pw@host} → {@code redis://:****@host}, and a {@code password=} query parameter
   * likewise; URLs without a password are returned unchanged.
   */
  public static String mask(String url) {
    int schemeEnd = url.indexOf("://");
    int authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
    // The last '@' rather than the first: a password with an unencoded '@' must still be hidden whole.
    // Over-masking a URL that merely has '@' in its path is the price, and a harmless one.
    int at = url.lastIndexOf('@');
    String masked = url;
    if (at > authorityStart) {
      String userInfo = url.substring(authorityStart, at);
      int colon = userInfo.indexOf(':');
      if (colon >= 0) {
        masked = url.substring(0, authorityStart) + userInfo.substring(0, colon) + ":****" + url.substring(at);
      }
    }
    return PASSWORD_PARAM.matcher(masked).replaceAll("$1****");
  }

  /** Whether the URL carries a password, in its user info or as a {@code password=} parameter. */
  public static boolean hasPassword(String url) {
    return !mask(url).equals(url);
  }

  /**
   * The URL parsed if it is absolute, has a host and one of the given (lower-case) schemes;
   * otherwise {@code null}.
   */
  static URI parseWithScheme(String url, List<String> schemes) {
    try {
      URI uri = new URI(url);
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      return schemes.contains(scheme) && uri.getHost() != null ? uri : null;
    } catch (URISyntaxException e) {
      return null;
    }
  }
}
