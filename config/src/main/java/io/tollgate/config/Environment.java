package io.tollgate.config;

import java.util.Map;
import java.util.Optional;

/**
 * Reads the process environment for overrides and secrets. An empty (or blank) value counts as
 * unset, because {@code FOO= java ...} and container templates with empty defaults are common
 * ways of meaning "not set". Problems name the variable, never a secret's value.
 */
final class Environment {

  private final Map<String, String> env;
  private final Problems problems;

  Environment(Map<String, String> env, Problems problems) {
    this.env = env;
    this.problems = problems;
  }

  Optional<String> get(String name) {
    String value = env.get(name);
    return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.trim());
  }

  Optional<Secret> secret(String name) {
    return get(name).map(Secret::of);
  }

  Optional<Long> integer(String name, long min, long max) {
    return integer(name, min, max, YamlSection.range(min, max));
  }

  Optional<Integer> port(String name) {
    return integer(name, 0, 65_535, YamlSection.PORT_RANGE).map(Long::intValue);
  }

  private Optional<Long> integer(String name, long min, long max, String expected) {
    Optional<String> text = get(name);
    if (text.isEmpty()) {
      return Optional.empty();
    }
    try {
      long n = Long.parseLong(text.get());
      if (n >= min && n <= max) {
        return Optional.of(n);
      }
    } catch (NumberFormatException notANumber) {
      // reported below, with the same words as an out-of-range number
    }
    problem(name, "expected " + expected + ", got \"" + text.get() + "\"");
    return Optional.empty();
  }

  void problem(String name, String message) {
    problems.at(Problems.ENVIRONMENT, name, message);
  }
}
