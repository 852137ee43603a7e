package io.tollgate.config;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A mapping of the YAML file read with its key path, so that every problem names the exact key.
 * Each read records the key as known; {@link #finish()} reports the keys nobody read (typos).
 */
final class YamlSection {

  /** Keys that look like secrets, with the variable that must hold them instead. */
  private static final Map<String, String> SECRET_KEYS = Map.of(
      "adminToken", "TOLLGATE_ADMIN_TOKEN",
      "stripeApiKey", "STRIPE_API_KEY",
      "stripeWebhookSecret", "STRIPE_WEBHOOK_SECRET",
      "webhookSecret", "STRIPE_WEBHOOK_SECRET",
      "apiKey", "an environment variable named by upstreamKeyEnv",
      "upstreamKey", "an environment variable named by upstreamKeyEnv",
      "password", "the URL's environment variable (REDIS_URL / DATABASE_URL)");

  private final Map<?, ?> map;
  private final String path;
  private final String source;
  private final Problems problems;
  private final Set<String> known = new LinkedHashSet<>();

  YamlSection(Map<?, ?> map, String path, String source, Problems problems) {
    this.map = map == null ? Map.of() : map;
    this.path = path;
    this.source = source;
    this.problems = problems;
  }

  String key(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  boolean has(String name) {
    known.add(name);
    return map.containsKey(name) && map.get(name) != null;
  }

  void problem(String name, String message) {
    problems.at(source, key(name), message);
  }

  Optional<String> string(String name) {
    if (!has(name)) {
      return Optional.empty();
    }
    Object value = map.get(name);
    if (value instanceof String s) {
      return Optional.of(s);
    }
    if (value instanceof Number || value instanceof Boolean) {
      return Optional.of(String.valueOf(value));
    }
    problem(name, "expected a string, got " + describe(value));
    return Optional.empty();
  }

  long integer(String name, long fallback, long min, long max) {
    if (!has(name)) {
      return fallback;
    }
    Object value = map.get(name);
    if (value instanceof Integer || value instanceof Long || value instanceof java.math.BigInteger) {
      long n = ((Number) value).longValue();
      if (n < min || n > max) {
        problem(name, "expected an integer " + range(min, max) + ", got " + n);
        return fallback;
      }
      return n;
    }
    problem(name, "expected an integer " + range(min, max) + ", got " + describe(value));
    return fallback;
  }

  boolean bool(String name, boolean fallback) {
    if (!has(name)) {
      return fallback;
    }
    Object value = map.get(name);
    if (value instanceof Boolean b) {
      return b;
    }
    problem(name, "expected true or false, got " + describe(value));
    return fallback;
  }

  YamlSection section(String name) {
    if (!has(name)) {
      return new YamlSection(Map.of(), key(name), source, problems);
    }
    Object value = map.get(name);
    if (value instanceof Map<?, ?> m) {
      return new YamlSection(m, key(name), source, problems);
    }
    problem(name, "expected a mapping, got " + describe(value));
    return new YamlSection(Map.of(), key(name), source, problems);
  }

  List<?> list(String name) {
    if (!has(name)) {
      return List.of();
    }
    Object value = map.get(name);
    if (value instanceof List<?> l) {
      return l;
    }
    problem(name, "expected a list, got " + describe(value));
    return List.of();
  }

  /** The entries of a mapping whose keys are names chosen by the operator (plans, models). */
  Map<?, ?> namedEntries(String name) {
    if (!has(name)) {
      return Map.of();
    }
    Object value = map.get(name);
    if (value instanceof Map<?, ?> m) {
      return m;
    }
    problem(name, "expected a mapping, got " + describe(value));
    return Map.of();
  }

  YamlSection child(String childPath, Object value) {
    if (value instanceof Map<?, ?> m) {
      return new YamlSection(m, childPath, source, problems);
    }
    problems.at(source, childPath, "expected a mapping, got " + describe(value));
    return new YamlSection(Map.of(), childPath, source, problems);
  }

  /** Reports every key present in the file that no reader asked for. */
  void finish() {
    for (Object k : map.keySet()) {
      String name = String.valueOf(k);
      if (known.contains(name)) {
        continue;
      }
      String secretVar = SECRET_KEYS.get(name);
      if (secretVar != null) {
        problem(name, "secrets come only from the environment: remove it from the file and set " + secretVar);
      } else {
        problem(name, "unknown key (known: " + String.join(", ", known) + ")");
      }
    }
  }

  static String describe(Object value) {
    if (value instanceof String s) {
      return "\"" + s + "\"";
    }
    if (value instanceof Map) {
      return "a mapping";
    }
    if (value instanceof List) {
      return "a list";
    }
    return String.valueOf(value);
  }

  private static String range(long min, long max) {
    if (max == Long.MAX_VALUE) {
      return min == 0 ? "≥ 0" : "≥ " + min;
    }
    return min + "-" + max;
  }
}
