package io.tollgate.config;

/**
 * Where a route's upstream reports usage. In YAML: {@code openai} ({@code usage} in JSON, the final
 * SSE chunk), {@code anthropic} ({@code message_start}/{@code message_delta}) or {@code none} (estimated).
 */
public enum UsageFormat {
  OPENAI("openai"), ANTHROPIC("anthropic"), NONE("none");

  private final String yamlName;

  UsageFormat(String yamlName) {
    this.yamlName = yamlName;
  }

  /** The spelling used in the configuration file. */
  public String yamlName() {
    return yamlName;
  }
}
