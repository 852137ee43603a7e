package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A browser-shaped HTTP client for console tests: keeps the cookies the console sets, posts
 * url-encoded forms, and reads the CSRF token off a page the way a form would carry it.
 */
final class ConsoleClient {

  private static final Pattern CSRF = Pattern.compile("name=\"_csrf\" value=\"([^\"]+)\"");

  private final HttpTestClient http;
  private final int port;
  final Map<String, String> cookies = new LinkedHashMap<>();
  /** The Set-Cookie lines of the last answer, as sent. */
  List<String> lastSetCookies = List.of();

  ConsoleClient(Vertx vertx, int port) {
    this.http = new HttpTestClient(vertx);
    this.port = port;
  }

  HttpTestClient.Reply get(String path) {
    return send(HttpMethod.GET, path, null, MultiMap.caseInsensitiveMultiMap());
  }

  HttpTestClient.Reply post(String path, Map<String, String> form) {
    return post(path, form, MultiMap.caseInsensitiveMultiMap());
  }

  HttpTestClient.Reply post(String path, Map<String, String> form, MultiMap headers) {
    StringBuilder body = new StringBuilder();
    form.forEach((k, v) -> body.append(body.length() == 0 ? "" : "&").append(URLEncoder.encode(k, StandardCharsets.UTF_8))
        .append('=').append(URLEncoder.encode(v, StandardCharsets.UTF_8)));
    headers.set("content-type", "application/x-www-form-urlencoded");
    return send(HttpMethod.POST, path, Buffer.buffer(body.toString()), headers);
  }

  HttpTestClient.Reply send(HttpMethod method, String path, Buffer body, MultiMap headers) {
    if (!cookies.isEmpty()) {
      StringBuilder c = new StringBuilder();
      cookies.forEach((k, v) -> c.append(c.length() == 0 ? "" : "; ").append(k).append('=').append(v));
      headers.set("cookie", c.toString());
    }
    HttpTestClient.Reply reply = await(http.send(method, port, path, headers, body));
    lastSetCookies = reply.headers().getAll("set-cookie");
    for (String line : lastSetCookies) {
      String pair = line.split(";", 2)[0];
      int eq = pair.indexOf('=');
      String name = pair.substring(0, eq).trim();
      String value = pair.substring(eq + 1).trim();
      if (value.isEmpty() || line.toLowerCase(java.util.Locale.ROOT).contains("max-age=0")) {
        cookies.remove(name);
      } else {
        cookies.put(name, value);
      }
    }
    return reply;
  }

  /** The set-cookie line for {@code name} in the last answer, or null. */
  String setCookie(String name) {
    return lastSetCookies.stream().filter(l -> l.startsWith(name + "=")).findFirst().orElse(null);
  }

  static String csrf(HttpTestClient.Reply page) {
    Matcher m = CSRF.matcher(page.text());
    if (!m.find()) {
      throw new AssertionError("no CSRF field on the page: " + page.text());
    }
    return m.group(1);
  }

  /** Signs in with {@code token} through the sign-in form; returns the answer to the form's POST. */
  HttpTestClient.Reply signIn(String token) {
    HttpTestClient.Reply form = get("/console/sign-in");
    return post("/console/sign-in", Map.of("_csrf", csrf(form), "token", token));
  }

  /** A page's CSRF token (any console page with a form carries it). */
  String csrf() {
    return csrf(get("/console/accounts"));
  }
}
