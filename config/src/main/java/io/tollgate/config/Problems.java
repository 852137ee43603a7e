package io.tollgate.config;

import java.util.ArrayList;
import java.util.List;

/** Collects problems, each prefixed by where it comes from (file name or environment). */
final class Problems {

  private final List<String> problems = new ArrayList<>();

  void at(String source, String path, String message) {
    problems.add(source + ": " + path + ": " + message);
  }

  void plain(String message) {
    problems.add(message);
  }

  void throwIfAny() {
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
  }
}
