package io.tollgate.config;

/** How Tollgate talks to Redis: one server, or a Redis Cluster found through seed nodes. */
public enum RedisMode {
  STANDALONE, CLUSTER;

  /** The spelling in YAML and {@code REDIS_MODE}. */
  public String yamlName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
