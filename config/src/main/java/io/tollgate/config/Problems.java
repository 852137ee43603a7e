package io.tollgate.config;

import java.util.ArrayList;
import java.util.List;

/**
 * Collects problems instead of failing on the first, so an operator fixes the whole file in one
 * go. Each problem starts with where it comes from: a file name, {@code environment} or
 * {@code command line}.
 */
final class Problems {

  static final String ENVIRONMENT = "environment";
  static final String COMMAND_LINE = "command line";

  private final List<String> problems = new ArrayList<>();

  void at(String source, String path, String message) {
    problems.add(path.isEmpty() ? source + ": " + message : source + ": " + path + ": " + message);
  }

  void throwIfAny() {
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
  }
}
