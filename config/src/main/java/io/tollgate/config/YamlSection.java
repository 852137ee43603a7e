package io.tollgate.config;

import java.math.BigInteger;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One mapping of the YAML file together with its key path, so that every problem names the exact
 * key. Each read records the key as known; {@link #finish()} reports the keys nobody read, which
 * are typos or secrets put in the wrong place.
 */
final class YamlSection {

  static final String PORT_RANGE = "an integer 1-65535 (or 0 for any free port)";
  private static final int LONGEST_QUOTED_VALUE = 80;

  private final Map<?, ?> map;
  private final String path;
  private final String source;
  private final Problems problems;
  private final Set<String> known = new LinkedHashSet<>();
  private final boolean misshapen;

  YamlSection(Map<?, ?> map, String path, String source, Problems problems) {
    this(map, path, source, problems, false);
  }

  private YamlSection(Map<?, ?> map, String path, String source, Problems problems, boolean misshapen) {
    this.map = map == null ? Map.of() : map;
    this.path = path;
    this.source = source;
    this.problems = problems;
    this.misshapen = misshapen;
  }

  /**
   * Whether this section stands in for something that was not a mapping (already reported), so
   * readers skip "is required" problems that would only repeat it.
   */
  boolean misshapen() {
    return misshapen;
  }

  String path() {
    return path;
  }

  String key(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  /** Present with a value; {@code key:} with nothing after it counts as absent, so it takes the default. */
  boolean has(String name) {
    known.add(name);
    return map.get(name) != null;
  }

  void problem(String name, String message) {
    problems.at(source, key(name), message);
  }

  /** A problem with this section as a whole. */
  void problem(String message) {
    problems.at(source, path, message);
  }

  Optional<String> string(String name) {
    if (!has(name)) {
      return Optional.empty();
    }
    Object value = map.get(name);
    if (value instanceof String s) {
      return Optional.of(s);
    }
    // `host: 10.0.0.1` is a string to YAML, `dataDir: 2024` is not; both are meant as text.
    if (value instanceof Number || value instanceof Boolean) {
      return Optional.of(String.valueOf(value));
    }
    problem(name, "expected a string, got " + describe(value));
    return Optional.empty();
  }

  long integer(String name, long fallback, long min, long max) {
    return integer(name, fallback, min, max, range(min, max));
  }

  int port(String name, int fallback) {
    return (int) integer(name, fallback, 0, 65_535, PORT_RANGE);
  }

  private long integer(String name, long fallback, long min, long max, String expected) {
    if (!has(name)) {
      return fallback;
    }
    Object value = map.get(name);
    boolean isInteger = value instanceof Integer || value instanceof Long
        || value instanceof BigInteger big && big.bitLength() < Long.SIZE;
    if (isInteger && ((Number) value).longValue() >= min && ((Number) value).longValue() <= max) {
      return ((Number) value).longValue();
    }
    problem(name, "expected " + expected + ", got " + describe(value));
    return fallback;
  }

  /**
   * An amount of credits in units ({@link Credits}): a decimal number with at most three decimals,
   * at least {@code minUnits}. More precision, a negative amount or one beyond what is kept
   * exactly is a problem naming the key and the value.
   */
  long credits(String name, long fallback, long minUnits) {
    if (!has(name)) {
      return fallback;
    }
    return creditUnits(map.get(name), minUnits, Credits.MAX_UNITS, message -> problem(name, message)).orElse(fallback);
  }

  /**
   * The one reading of a configured amount of credits, wherever it sits: {@code value} in units
   * ({@link Credits}) if it is an exact decimal with at most three decimals from {@code minUnits}
   * to {@code maxUnits}; otherwise {@code problem} gets "expected ..., got ..." naming the value
   * (never rounded) and the result is empty.
   */
  static Optional<Long> creditUnits(Object value, long minUnits, long maxUnits, Consumer<String> problem) {
    String expected = "expected " + creditRange(minUnits, maxUnits) + " with at most " + Credits.SCALE + " decimals, got ";
    if (!(value instanceof Number n)) {
      problem.accept(expected + describe(value));
      return Optional.empty();
    }
    try {
      long units = Credits.units(n);
      if (units >= minUnits && units <= maxUnits) {
        return Optional.of(units);
      }
      problem.accept(expected + describe(value));
    } catch (IllegalArgumentException e) {
      problem.accept(expected + e.getMessage());
    }
    return Optional.empty();
  }

  /**
   * How a credit range reads in a message. Without a bound of its own below what is kept exactly
   * only the lower end is named, and a positive minimum is one unit, the smallest amount above 0:
   * "credits >= 0", "credits > 0"; with one, both ends: "credits 0-1000000".
   */
  private static String creditRange(long minUnits, long maxUnits) {
    if (maxUnits >= Credits.MAX_UNITS) {
      return minUnits > 0 ? "credits > 0" : "credits >= 0";
    }
    return "credits " + Credits.format(minUnits) + "-" + Credits.format(maxUnits);
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

  /** A nested mapping with fixed keys (server, redis, ...); absent means empty, so defaults apply. */
  YamlSection section(String name) {
    return child(key(name), has(name) ? map.get(name) : Map.of());
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

  /** The entries of a mapping whose keys are names the operator chooses (plans, models), in file order. */
  Map<String, Object> namedEntries(String name) {
    Map<String, Object> entries = new LinkedHashMap<>();
    if (!has(name)) {
      return entries;
    }
    Object value = map.get(name);
    if (value instanceof Map<?, ?> m) {
      m.forEach((k, v) -> entries.put(String.valueOf(k), v));
    } else {
      problem(name, "expected a mapping, got " + describe(value));
    }
    return entries;
  }

  /** A mapping found at {@code childPath}; anything else is reported and read as an empty mapping. */
  YamlSection child(String childPath, Object value) {
    if (value instanceof Map<?, ?> m) {
      return new YamlSection(m, childPath, source, problems);
    }
    problems.at(source, childPath, "expected a mapping, got " + describe(value));
    return new YamlSection(Map.of(), childPath, source, problems, true);
  }

  /** Reports every key present in the file that no reader asked for. Call after all reads. */
  void finish() {
    for (Object k : map.keySet()) {
      String name = String.valueOf(k);
      if (known.contains(name)) {
        continue;
      }
      Optional<String> secretHome = SecretKeys.whereToSet(path, name);
      if (secretHome.isPresent()) {
        // Never echo the value: it is the secret.
        problem(name, "secrets come only from the environment: set " + secretHome.get());
      } else {
        problem(name, "unknown key (known: " + String.join(", ", known) + ")");
      }
    }
  }

  /** A value as it appears in a message: strings quoted (long ones cut), collections by kind. */
  static String describe(Object value) {
    if (value instanceof String s) {
      return "\"" + (s.length() > LONGEST_QUOTED_VALUE ? s.substring(0, LONGEST_QUOTED_VALUE) + "…" : s) + "\"";
    }
    if (value instanceof Map) {
      return "a mapping";
    }
    if (value instanceof List) {
      return "a list";
    }
    return String.valueOf(value);
  }

  /** How an integer range reads in a message ("a positive integer", "an integer 1-256"). */
  static String range(long min, long max) {
    if (max == Long.MAX_VALUE && min == 0) {
      return "a non-negative integer";
    }
    if (max == Long.MAX_VALUE && min == 1) {
      return "a positive integer";
    }
    return "an integer " + min + "-" + max;
  }
}
