package io.tollgate.metering.keys;

import io.tollgate.metering.redis.RedisKeys;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Subscribes to key revocations on Redis pub/sub and drops those keys from this instance's
 * cache. A lost subscription is re-established, and the whole cache is cleared then, since
 * revocations may have been missed while it was down.
 *
 * <p>With several subscribers (the seed nodes of a Redis Cluster) it subscribes on one node at a
 * time and moves to the next when that one fails: a cluster delivers every PUBLISH to every node,
 * replicas included, so any one node hears all events.
 */
final class RevocationListener {

  private static final Logger log = LoggerFactory.getLogger(RevocationListener.class);

  private final Vertx vertx;
  private final List<Redis> subscribers;
  private int next;
  private final Consumer<String> onRevoked;
  private final Runnable onGap;
  private volatile boolean closed;
  private RedisConnection connection;

  RevocationListener(Vertx vertx, List<Redis> subscribers, Consumer<String> onRevoked, Runnable onGap) {
    if (subscribers.isEmpty()) {
      throw new IllegalArgumentException("no Redis to subscribe on");
    }
    this.vertx = vertx;
    this.subscribers = List.copyOf(subscribers);
    this.onRevoked = onRevoked;
    this.onGap = onGap;
  }

  Future<Void> start() {
    Redis subscriber = subscribers.get(Math.floorMod(next++, subscribers.size()));
    return subscriber.connect().compose(conn -> {
      connection = conn;
      conn.handler(this::onMessage);
      conn.exceptionHandler(err -> log.warn("revocation subscription error: {}", err.toString()));
      conn.endHandler(v -> reconnect());
      return conn.send(Request.cmd(Command.SUBSCRIBE).arg(RedisKeys.KEY_EVENTS_CHANNEL)).mapEmpty();
    });
  }

  private void onMessage(Response message) {
    // Push messages arrive as ["message", channel, payload].
    if (message.type() == ResponseType.PUSH || message.type() == ResponseType.MULTI) {
      if (message.size() == 3 && "message".equals(message.get(0).toString())) {
        onRevoked.accept(message.get(2).toString());
      }
    }
  }

  void retryLater() {
    reconnect();
  }

  private void reconnect() {
    if (closed) {
      return;
    }
    onGap.run();
    vertx.setTimer(1_000, id -> start().onFailure(err -> {
      log.warn("revocation subscription lost, retrying: {}", err.toString());
      reconnect();
    }));
  }

  void close() {
    closed = true;
    if (connection != null) {
      connection.close();
    }
  }
}
