package io.tollgate.gateway.ops;

import io.tollgate.config.RedisMode;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisOptions;
import java.util.Arrays;
import java.util.List;

/**
 * The Redis clients of one instance, built from the configured mode and URL(s). In cluster mode
 * the command client discovers the masters from the seed nodes and sends each command to the
 * master of its key's slot (following MOVED and ASK, refreshing its slot map); every key a
 * Tollgate command or script touches carries its shard's hash tag, so each lands on one master.
 */
public final class RedisClients {

  private final RedisMode mode;
  private final List<String> urls;

  /** @param urls one URL, or in cluster mode the comma-separated seed nodes */
  public RedisClients(RedisMode mode, String urls) {
    this.mode = mode;
    this.urls = Arrays.stream(urls.split(",")).map(String::trim).toList();
  }

  public RedisMode mode() {
    return mode;
  }

  /** Options for a command client of {@code poolSize} connections (per node in a cluster). */
  public RedisOptions options(int poolSize) {
    RedisOptions options = new RedisOptions().setMaxPoolSize(poolSize);
    if (mode == RedisMode.CLUSTER) {
      options.setType(RedisClientType.CLUSTER).setConnectionString(urls.get(0));
      urls.subList(1, urls.size()).forEach(options::addConnectionString);
    } else {
      options.setConnectionString(urls.get(0));
    }
    return options;
  }

  public Redis commands(Vertx vertx, int poolSize, int maxWaiting) {
    return Redis.createClient(vertx, options(poolSize).setMaxPoolWaiting(maxWaiting).setMaxWaitingHandlers(maxWaiting));
  }

  /**
   * Clients to subscribe on, tried in turn: the standalone server, or one plain connection per
   * seed node. Classic PUBLISH in a cluster reaches every node, replicas too, so a subscription on
   * any single node hears every event; sharded pub/sub (SSUBSCRIBE) would need Redis 7, and our
   * events are few and cluster-wide, which is what classic pub/sub is for.
   */
  public List<Redis> subscribers(Vertx vertx) {
    return urls.stream().map(url -> Redis.createClient(vertx, new RedisOptions().setConnectionString(url))).toList();
  }
}
