package io.tollgate.config;

import java.util.List;
import java.util.Map;

/** Shared helpers: load inline YAML the way a file named tollgate.yaml would be loaded. */
final class Fixtures {

  static final String FILE = "tollgate.yaml";

  private Fixtures() {
  }

  static TollgateConfig load(String yaml) {
    return load(yaml, Map.of());
  }

  static TollgateConfig load(String yaml, Map<String, String> env) {
    return ConfigLoader.fromYaml(yaml, FILE, env);
  }

  static ConfigException refusal(String yaml, Map<String, String> env) {
    try {
      load(yaml, env);
    } catch (ConfigException e) {
      return e;
    }
    throw new AssertionError("expected the configuration to be refused:\n" + yaml);
  }

  static List<String> problemsOf(String yaml) {
    return refusal(yaml, Map.of()).problems();
  }

  static List<String> problemsOf(String yaml, Map<String, String> env) {
    return refusal(yaml, env).problems();
  }
}
