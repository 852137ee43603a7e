package io.tollgate.config;

import java.util.List;

/**
 * Every problem found in the configuration, reported together so an operator fixes them in one go.
 * The message lists them one per line:
 * <pre>
 * Invalid configuration (2 problems):
 *   - tollgate.yaml: server.prot: unknown key (known: host, port, ...)
 *   - environment: TOLLGATE_PROXY_PORT: expected an integer 1-65535 (or 0 for any free port), got "abc"
 * </pre>
 * No problem ever contains a secret or a URL password.
 */
public final class ConfigException extends RuntimeException {

  private final List<String> problems;

  public ConfigException(List<String> problems) {
    super(render(problems));
    this.problems = List.copyOf(problems);
  }

  /** Each problem, starting with its source (file, {@code environment}, {@code command line}) and key path. */
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
