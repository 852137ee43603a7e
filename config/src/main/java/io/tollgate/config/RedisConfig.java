package io.tollgate.config;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Redis to use; no URL means Tollgate starts an embedded (standalone) Redis under the data directory.
 *
 * @param url      {@code redis://} or {@code rediss://}, possibly with a password (from {@code REDIS_URL});
 *                 in cluster mode a comma-separated list of seed nodes, each such a URL
 * @param poolSize connections to Redis (per node in cluster mode)
 * @param mode     one standalone server, or a Redis Cluster reached through the seed nodes
 * @param batchSize the most admissions (or settlements) begun in one event-loop turn that go to Redis
 *                 as one script call (1: each alone); see {@code BatchedScript} in the metering module
 * @param settleWaitReplicas after each settle call, WAIT for this many replicas (0: no WAIT)
 * @param settleWaitMs       the WAIT's timeout
 */
public record RedisConfig(Optional<String> url, int poolSize, RedisMode mode, int batchSize, int settleWaitReplicas,
                          long settleWaitMs) {

  public RedisConfig(Optional<String> url, int poolSize) {
    this(url, poolSize, RedisMode.STANDALONE);
  }

  public RedisConfig(Optional<String> url, int poolSize, RedisMode mode) {
    this(url, poolSize, mode, Defaults.REDIS_BATCH_SIZE, 0, Defaults.REDIS_SETTLE_WAIT_MS);
  }

  public boolean embedded() {
    return url.isEmpty();
  }

  /** The URL split at commas: one element in standalone mode, the seed nodes in cluster mode. */
  public List<String> seeds() {
    return url.map(RedisConfig::split).orElse(List.of());
  }

  static List<String> split(String urls) {
    return Arrays.stream(urls.split(",", -1)).map(String::trim).toList();
  }

  /** Masks each URL's password: configs get logged. */
  @Override
  public String toString() {
    String urls = url.isEmpty() ? "(embedded)" : seeds().stream().map(Urls::mask).collect(Collectors.joining(","));
    return "RedisConfig[mode=" + mode.yamlName() + ", url=" + urls + ", poolSize=" + poolSize + ", batchSize=" + batchSize
        + (settleWaitReplicas > 0 ? ", settleWaitReplicas=" + settleWaitReplicas + ", settleWaitMs=" + settleWaitMs : "") + "]";
  }
}
