package io.tollgate.metering.keys;

import io.tollgate.metering.redis.RedisKeys;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Key and account changes that every instance must see at once: a revoked key, or an account
 * whose plan, limits or status changed. Published on Redis pub/sub; each instance drops the
 * affected grants from its {@link KeyVerifier}'s cache (its own at once, before publishing).
 */
public final class KeyEvents {

  private static final Logger log = LoggerFactory.getLogger(KeyEvents.class);
  /** The message that drops every cached grant. */
  static final String ALL_KEYS = "*";

  private final Redis publisher;
  private final KeyVerifier verifier;
  private final RevocationListener listener;

  public KeyEvents(Vertx vertx, Redis publisher, Redis subscriber, KeyVerifier verifier) {
    this(vertx, publisher, java.util.List.of(subscriber), verifier);
  }

  /**
   * @param subscribers where to subscribe, tried in turn: one standalone Redis, or one client per
   *                    seed node of a Redis Cluster (classic pub/sub reaches every node of a cluster)
   */
  public KeyEvents(Vertx vertx, Redis publisher, java.util.List<Redis> subscribers, KeyVerifier verifier) {
    this.publisher = publisher;
    this.verifier = verifier;
    this.listener = new RevocationListener(vertx, subscribers,
        hash -> {
          if (ALL_KEYS.equals(hash)) {
            verifier.invalidateAll();
          } else {
            verifier.invalidate(hash);
          }
        },
        verifier::invalidateAll);
  }

  /** Subscribes; when Redis is down the subscription is retried in the background. */
  public Future<Void> start() {
    return listener.start().recover(err -> {
      log.warn("could not subscribe to key revocations yet ({}); retrying", err.toString());
      listener.retryLater();
      return Future.succeededFuture();
    });
  }

  /** Tells every instance (this one included) to forget a key now. */
  public Future<Void> announceRevocation(byte[] hash) {
    String hex = KeyCache.hex(hash);
    verifier.invalidate(hex);
    return publisher.send(Request.cmd(Command.PUBLISH).arg(RedisKeys.KEY_EVENTS_CHANNEL).arg(hex)).mapEmpty();
  }

  /** Every instance drops its cached grants: an account's plan, limits or status changed. */
  public Future<Void> announceAccountChange() {
    verifier.invalidateAll();
    return publisher.send(Request.cmd(Command.PUBLISH).arg(RedisKeys.KEY_EVENTS_CHANNEL).arg(ALL_KEYS)).mapEmpty();
  }

  public void close() {
    listener.close();
  }
}
