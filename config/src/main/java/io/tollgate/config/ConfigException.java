package io.tollgate.config;

import java.util.List;

/** Every problem found in the configuration, reported together so an operator fixes them in one go. */
public final class ConfigException extends RuntimeException {

  private final List<String> problems;

  public ConfigException(List<String> problems) {
    super(render(problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }

  private static String render(List<String> problems) {
    StringBuilder out = new StringBuilder("Invalid configuration (")
        .append(problems.size()).append(problems.size() == 1 ? " problem):" : " problems):");
    for (String problem : problems) {
      out.append("\n  - ").append(problem);
    }
    return out.toString();
  }
}
