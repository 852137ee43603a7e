package io.tollgate.config;

/**
 * How a route's upstream credential is sent. In YAML: {@code bearer} ({@code Authorization: Bearer <key>}),
 * {@code x-api-key} ({@code x-api-key: <key>}, Anthropic's way) or {@code none}.
 */
public enum UpstreamAuth {
  BEARER("bearer"), X_API_KEY("x-api-key"), NONE("none");

  private final String yamlName;

  UpstreamAuth(String yamlName) {
    this.yamlName = yamlName;
  }

  /** The spelling used in the configuration file. */
  public String yamlName() {
    return yamlName;
  }
}
