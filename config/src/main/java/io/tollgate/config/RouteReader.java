package io.tollgate.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** Reads and checks {@code routes:}, the list of proxy routes, with each route's upstream credential from the environment. */
final class RouteReader {

  /**
   * Upper case only: a credential pasted in by mistake (sk-..., sk_live_...) then fails this check
   * and is refused without being echoed, instead of appearing in "variable ... is not set".
   */
  private static final Pattern ENV_NAME = Pattern.compile("[A-Z_][A-Z0-9_]*");
  private static final List<String> HTTP = List.of("http", "https");

  private final Environment env;
  /** Prefix → the route that claimed it first, to name it in the duplicate's message. */
  private final Map<String, String> prefixes = new HashMap<>();

  private RouteReader(Environment env) {
    this.env = env;
  }

  static List<RouteConfig> read(YamlSection top, Environment env) {
    RouteReader reader = new RouteReader(env);
    List<RouteConfig> routes = new ArrayList<>();
    List<?> raw = top.list("routes");
    for (int i = 0; i < raw.size(); i++) {
      YamlSection route = top.child("routes[" + i + "]", raw.get(i));
      // An entry that is not a mapping is reported once by child(), not again for each missing key.
      if (!route.misshapen()) {
        reader.route(route).ifPresent(routes::add);
      }
    }
    return routes;
  }

  private Optional<RouteConfig> route(YamlSection r) {
    Optional<String> prefix = prefix(r);
    Optional<URI> upstream = upstream(r);
    Optional<String> keyEnv = r.string("upstreamKeyEnv");
    Optional<Secret> key = keyEnv.flatMap(name -> credential(r, name));
    UpstreamAuth auth = enumValue(r, "upstreamAuth", UpstreamAuth.values(), UpstreamAuth::yamlName)
        .orElse(keyEnv.isPresent() ? UpstreamAuth.BEARER : UpstreamAuth.NONE);
    if (auth != UpstreamAuth.NONE && keyEnv.isEmpty()) {
      r.problem("upstreamAuth", auth.yamlName() + " needs upstreamKeyEnv to name the variable holding the credential");
    }
    UsageFormat usage = enumValue(r, "usage", UsageFormat.values(), UsageFormat::yamlName).orElse(UsageFormat.NONE);
    long flatCost = r.credits("flatCost", Defaults.FLAT_COST, 0);
    boolean metered = r.bool("metered", true);
    Optional<String> feature = r.string("feature");
    feature.ifPresent(f -> {
      if (!ConfigReader.NAME.matcher(f).matches()) {
        r.problem("feature", "expected a feature name (letters, digits, '_', '-', '.'; 1-64 characters), got " + YamlSection.describe(f));
      } else if (!metered) {
        r.problem("feature", "needs a metered route (a pass-through route has no API key, so no plan to check)");
      }
    });
    Optional<UpstreamTls> tls = r.has("tls") ? Optional.of(TlsReader.read(r.section("tls"))) : Optional.empty();
    if (tls.isPresent() && upstream.isPresent() && !"https".equals(upstream.get().getScheme())) {
      r.problem("tls", "applies to https upstreams only, and upstream is " + upstream.get().getScheme() + "://");
    }
    r.finish();
    if (prefix.isEmpty() || upstream.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(new RouteConfig(prefix.get(), upstream.get(), keyEnv, key, auth, usage, flatCost, metered, feature, tls));
  }

  private Optional<String> prefix(YamlSection r) {
    Optional<String> prefix = r.string("prefix");
    if (prefix.isEmpty()) {
      r.problem("prefix", "is required (a path such as /v1/)");
      return Optional.empty();
    }
    String p = prefix.get();
    if (!p.startsWith("/") || !p.endsWith("/")) {
      r.problem("prefix", "must start and end with \"/\", got " + YamlSection.describe(p));
      return Optional.empty();
    }
    String first = prefixes.putIfAbsent(p, r.path());
    if (first != null) {
      r.problem("prefix", YamlSection.describe(p) + " is already the prefix of " + first);
      return Optional.empty();
    }
    return prefix;
  }

  private Optional<URI> upstream(YamlSection r) {
    Optional<String> text = r.string("upstream");
    if (text.isEmpty()) {
      r.problem("upstream", "is required (an absolute http(s) URL)");
      return Optional.empty();
    }
    URI uri = Urls.parseWithScheme(text.get(), HTTP);
    if (uri == null) {
      r.problem("upstream", "not an absolute http(s) URL: " + YamlSection.describe(Urls.mask(text.get())));
      return Optional.empty();
    }
    if (uri.getRawUserInfo() != null) {
      // Not echoed even masked: a user name alone can be a token (https://TOKEN@host/).
      r.problem("upstream", "must not contain credentials (user info): secrets come only from the environment: "
          + "set an environment variable and name it in " + r.path() + ".upstreamKeyEnv");
      return Optional.empty();
    }
    if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
      r.problem("upstream", "must not have a query or fragment, got " + YamlSection.describe(Urls.mask(text.get())));
      return Optional.empty();
    }
    // Normalised to end with "/" so that the gateway can resolve the rest of the request path against it.
    String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
    if (!path.endsWith("/")) {
      path = path + "/";
    }
    try {
      String scheme = uri.getScheme().toLowerCase(Locale.ROOT);
      return Optional.of(new URI(scheme, null, uri.getHost(), uri.getPort(), null, null, null).resolve(path));
    } catch (URISyntaxException | IllegalArgumentException e) {
      r.problem("upstream", "not an absolute http(s) URL: " + YamlSection.describe(Urls.mask(text.get())));
      return Optional.empty();
    }
  }

  private Optional<Secret> credential(YamlSection r, String name) {
    if (!ENV_NAME.matcher(name).matches()) {
      // Most likely the credential itself was pasted here: say so without repeating it.
      r.problem("upstreamKeyEnv", "expected the name of an environment variable (A-Z, 0-9, _), "
          + "not the credential itself");
      return Optional.empty();
    }
    Optional<Secret> key = env.secret(name);
    if (key.isEmpty()) {
      r.problem("upstreamKeyEnv", "environment variable " + name + " is not set");
    }
    return key;
  }

  static <E extends Enum<E>> Optional<E> enumValue(YamlSection s, String name, E[] values,
                                                            java.util.function.Function<E, String> yamlName) {
    Optional<String> text = s.string(name);
    if (text.isEmpty()) {
      return Optional.empty();
    }
    Optional<E> value = Arrays.stream(values)
        .filter(v -> yamlName.apply(v).equalsIgnoreCase(text.get().trim()))
        .findFirst();
    if (value.isEmpty()) {
      s.problem(name, "expected one of " + Arrays.stream(values).map(yamlName).collect(Collectors.joining(" | "))
          + ", got " + YamlSection.describe(text.get()));
    }
    return value;
  }
}
