package io.tollgate.metering.store;

import io.tollgate.config.Urls;
import io.vertx.pgclient.PgConnectOptions;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Properties;

/**
 * One Postgres URL ({@code postgresql://user:pass@host:port/db?...}, the DATABASE_URL form) turned
 * into what each client wants: Vert.x connect options for the hot path, JDBC for Flyway.
 */
public final class PostgresUrls {

  private PostgresUrls() {
  }

  public static PgConnectOptions toConnectOptions(String url) {
    try {
      return PgConnectOptions.fromUri(url);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a usable Postgres URL: " + Urls.mask(url));
    }
  }

  /** {@code jdbc:postgresql://host:port/db?query}; credentials go in {@link #jdbcProperties}. */
  public static String toJdbcUrl(String url) {
    URI uri = parse(url);
    String db = uri.getRawPath() == null || uri.getRawPath().length() <= 1 ? "/postgres" : uri.getRawPath();
    int port = uri.getPort() == -1 ? 5432 : uri.getPort();
    return "jdbc:postgresql://" + uri.getHost() + ":" + port + db + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
  }

  public static Properties jdbcProperties(String url) {
    URI uri = parse(url);
    Properties props = new Properties();
    String userInfo = uri.getRawUserInfo();
    if (userInfo != null) {
      int colon = userInfo.indexOf(':');
      props.setProperty("user", decode(colon < 0 ? userInfo : userInfo.substring(0, colon)));
      if (colon >= 0) {
        props.setProperty("password", decode(userInfo.substring(colon + 1)));
      }
    }
    return props;
  }

  private static URI parse(String url) {
    try {
      URI uri = new URI(url);
      if (uri.getHost() == null) {
        throw new IllegalArgumentException("not a usable Postgres URL (no host): " + Urls.mask(url));
      }
      return uri;
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("not a usable Postgres URL: " + Urls.mask(url));
    }
  }

  private static String decode(String s) {
    return URLDecoder.decode(s, StandardCharsets.UTF_8);
  }
}
