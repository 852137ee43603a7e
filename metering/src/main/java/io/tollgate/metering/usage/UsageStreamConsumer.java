package io.tollgate.metering.usage;

import io.tollgate.metering.redis.RedisKeys;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves usage events from the shard streams into Postgres, exactly once: read a batch in the
 * consumer group, insert it in one statement (duplicates dropped by event id), then XACK. A
 * consumer that dies between insert and XACK leaves its entries pending; any consumer claims them
 * after {@code claimIdle} (XAUTOCLAIM) and re-inserting them is a no-op. With Postgres down,
 * nothing is acknowledged, so events wait in the stream. Entries that cannot be parsed go to the
 * shard's dead-letter stream with the reason, and never block the rest. An entry Postgres rejects
 * (see {@link UsageDeadLetters}) is isolated by splitting its batch, recorded in
 * {@code usage_dead_letters} and acknowledged; the rest of the batch is stored. A shard that fails
 * does not stop the others.
 */
public final class UsageStreamConsumer {

  public static final String GROUP = "tollgate-metering";
  private static final Logger log = LoggerFactory.getLogger(UsageStreamConsumer.class);

  private final Redis redis;
  private final Pool pool;
  private final RedisKeys keys;
  private final String consumer;
  private final int batchSize;
  private final Duration claimIdle;
  private volatile BatchObserver observer = (entries, nanos, accounts) -> { };

  /** Told about every batch stored: entries (dead-lettered ones included), the time it took, and the accounts whose usage it added. */
  @FunctionalInterface
  public interface BatchObserver {
    void stored(int entries, long nanos, java.util.Set<Long> accounts);
  }

  /**
   * How far behind Postgres is. Acknowledged entries are deleted from the streams, so
   * {@code backlog} counts exactly the events not yet in Postgres.
   *
   * @param backlog         entries in the shard streams (not yet stored)
   * @param pending         of those, read by a consumer and not yet acknowledged
   * @param oldestAgeMillis age of the oldest entry (0 when the streams are empty)
   */
  public record Backlog(long backlog, long pending, long oldestAgeMillis) {
  }

  /**
   * What one pass did, for metrics and tests. {@code deadLettered} counts both malformed entries
   * and rows Postgres rejected; {@code failedShards} the shards left pending this pass (say, Postgres down).
   */
  public record Flushed(int inserted, int duplicates, int deadLettered, int failedShards) {
    static final Flushed NONE = new Flushed(0, 0, 0, 0);

    Flushed plus(Flushed o) {
      return new Flushed(inserted + o.inserted, duplicates + o.duplicates, deadLettered + o.deadLettered,
          failedShards + o.failedShards);
    }
  }

  /** One parsed stream entry, with its raw fields for the dead-letter table. */
  private record Entry(String id, Map<String, String> fields, UsageEvent event) {
  }

  /** What inserting some entries did: stored (new), and rejected into the dead-letter table. */
  private record Stored(int inserted, int rejected) {
    Stored plus(Stored o) {
      return new Stored(inserted + o.inserted, rejected + o.rejected);
    }
  }

  public UsageStreamConsumer(Redis redis, Pool pool, RedisKeys keys, String consumer, int batchSize, Duration claimIdle) {
    this.redis = redis;
    this.pool = pool;
    this.keys = keys;
    this.consumer = consumer;
    this.batchSize = batchSize;
    this.claimIdle = claimIdle;
  }

  public void observer(BatchObserver observer) {
    this.observer = observer;
  }

  public static String deadLetterStream(String stream) {
    return stream + ":dead";
  }

  /** Creates the consumer group on every shard stream (idempotent). */
  public Future<Void> ensureGroups() {
    Future<Void> all = Future.succeededFuture();
    for (int shard = 0; shard < keys.shards(); shard++) {
      String stream = keys.usageStreamOfShard(shard);
      all = all.compose(v -> redis.send(Request.cmd(Command.XGROUP).arg("CREATE").arg(stream).arg(GROUP).arg("0").arg("MKSTREAM"))
          .<Void>mapEmpty()
          .recover(err -> err.getMessage() != null && err.getMessage().startsWith("BUSYGROUP")
              ? Future.succeededFuture() : Future.failedFuture(err)));
    }
    return all;
  }

  /**
   * One pass over every shard: this consumer's own unacknowledged entries first (a store that
   * failed, say with Postgres down, is retried on the next pass rather than after
   * {@code claimIdle}), then stale entries of dead consumers, then new ones, a batch at a time.
   * A shard that fails is counted in {@link Flushed#failedShards} and the pass goes on with the next.
   */
  public Future<Flushed> flushAll() {
    Future<Flushed> total = Future.succeededFuture(Flushed.NONE);
    for (int shard = 0; shard < keys.shards(); shard++) {
      int s = shard;
      total = total.compose(sum -> retryOwn(s)
          .compose(own -> claimStale(s).map(own::plus))
          .compose(soFar -> flushNew(s).map(soFar::plus))
          .recover(err -> {
            log.warn("usage shard {} not flushed this pass (its events wait in the stream): {}", s, err.toString());
            return Future.succeededFuture(new Flushed(0, 0, 0, 1));
          })
          .map(sum::plus));
    }
    return total;
  }

  /** Stores again the entries this consumer read but could not acknowledge (its pending list). */
  public Future<Flushed> retryOwn(int shard) {
    String stream = keys.usageStreamOfShard(shard);
    return redis.send(Request.cmd(Command.XREADGROUP).arg("GROUP").arg(GROUP).arg(consumer)
            .arg("COUNT").arg(batchSize).arg("STREAMS").arg(stream).arg("0"))
        .compose(reply -> {
          // An id whose entry was deleted comes back with nil fields; store() just acknowledges it.
          List<Response> entries = entriesOf(reply);
          if (entries.isEmpty()) {
            return Future.succeededFuture(Flushed.NONE);
          }
          return store(stream, entries, true).compose(done -> entries.size() < batchSize
              ? Future.succeededFuture(done) : retryOwn(shard).map(done::plus));
        });
  }

  /** Reads and stores new entries of one shard until a batch comes back short. */
  public Future<Flushed> flushNew(int shard) {
    String stream = keys.usageStreamOfShard(shard);
    return redis.send(Request.cmd(Command.XREADGROUP).arg("GROUP").arg(GROUP).arg(consumer)
            .arg("COUNT").arg(batchSize).arg("STREAMS").arg(stream).arg(">"))
        .compose(reply -> {
          List<Response> entries = entriesOf(reply);
          if (entries.isEmpty()) {
            return Future.succeededFuture(Flushed.NONE);
          }
          return store(stream, entries, true).compose(done -> entries.size() < batchSize
              ? Future.succeededFuture(done) : flushNew(shard).map(done::plus));
        });
  }

  /** Takes over entries another consumer read but never acknowledged (it died), and stores them. */
  public Future<Flushed> claimStale(int shard) {
    String stream = keys.usageStreamOfShard(shard);
    return redis.send(Request.cmd(Command.XAUTOCLAIM).arg(stream).arg(GROUP).arg(consumer).arg(claimIdle.toMillis())
            .arg("0-0").arg("COUNT").arg(batchSize))
        .compose(reply -> {
          List<Response> entries = new ArrayList<>();
          if (reply != null && reply.size() > 1 && reply.get(1) != null) {
            for (Response e : reply.get(1)) {
              if (e != null && e.size() == 2 && e.get(1) != null) {
                entries.add(e);
              }
            }
          }
          return entries.isEmpty() ? Future.succeededFuture(Flushed.NONE) : store(stream, entries, true);
        });
  }

  /**
   * Stores entries, then (if {@code acknowledge}) XACKs them. Tests call it with
   * {@code acknowledge = false} to play a consumer that dies between the two steps.
   */
  public Future<Flushed> store(String stream, List<Response> entries, boolean acknowledge) {
    long started = System.nanoTime();
    List<Entry> events = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    List<Future<Void>> deadLetters = new ArrayList<>();
    for (Response entry : entries) {
      String id = entry.get(0).toString();
      if (entry.size() < 2 || entry.get(1) == null) {
        ids.add(id);
        continue;
      }
      Map<String, String> fields = fields(entry.get(1));
      try {
        events.add(new Entry(id, fields, UsageRows.parse(fields)));
      } catch (IllegalArgumentException e) {
        deadLetters.add(deadLetter(stream, id, fields, e.getMessage()));
      }
      ids.add(id);
    }
    return Future.all(deadLetters)
        .compose(v -> events.isEmpty() ? Future.succeededFuture(new Stored(0, 0)) : insertIsolating(stream, events))
        .compose(stored -> {
      Flushed done = new Flushed(stored.inserted(), events.size() - stored.inserted() - stored.rejected(),
          deadLetters.size() + stored.rejected(), 0);
      if (!acknowledge) {
        return Future.succeededFuture(done);
      }
      Request ack = Request.cmd(Command.XACK).arg(stream).arg(GROUP);
      ids.forEach(ack::arg);
      // Stored entries are deleted, so the stream holds only what Postgres lacks (never trimmed
      // by length: an unacknowledged entry must survive a Postgres outage of any length).
      Request delete = Request.cmd(Command.XDEL).arg(stream);
      ids.forEach(delete::arg);
      return redis.batch(List.of(ack, delete)).map(done);
    })
    .onSuccess(done -> {
      java.util.Set<Long> accounts = new java.util.HashSet<>();
      events.forEach(e -> accounts.add(e.event().accountId()));
      observer.stored(entries.size(), System.nanoTime() - started, accounts);
    }).onFailure(err -> log.warn("could not store {} usage events from {} (they stay pending): {}", events.size(), stream, err.toString()));
  }

  /**
   * Inserts the entries in one statement; if Postgres rejects a row, splits the batch in halves
   * until each rejected entry stands alone, then dead-letters it. Any other failure (Postgres
   * unreachable) fails the whole call, so nothing is acknowledged and a later pass retries;
   * halves already stored are then dropped by event id on that pass.
   */
  private Future<Stored> insertIsolating(String stream, List<Entry> batch) {
    List<UsageEvent> events = batch.stream().map(Entry::event).toList();
    return pool.preparedQuery(UsageRows.INSERT_BATCH).execute(UsageRows.batch(events))
        .map(rows -> new Stored(rows.iterator().next().getLong("inserted").intValue(), 0))
        .recover(err -> {
          if (!UsageDeadLetters.rejectsRows(err)) {
            return Future.failedFuture(err);
          }
          if (batch.size() == 1) {
            Entry poison = batch.get(0);
            log.warn("usage entry {} in {} (event {}) is rejected by Postgres; recorded in usage_dead_letters: {}",
                poison.id(), stream, poison.event().eventId(), err.getMessage());
            return UsageDeadLetters.record(pool, stream, poison.id(), poison.event(), poison.fields(), err)
                .map(new Stored(0, 1));
          }
          int half = batch.size() / 2;
          return insertIsolating(stream, batch.subList(0, half))
              .compose(first -> insertIsolating(stream, batch.subList(half, batch.size())).map(first::plus));
        });
  }

  private Future<Void> deadLetter(String stream, String id, Map<String, String> fields, String reason) {
    log.warn("usage entry {} in {} is malformed ({}); moved to the dead-letter stream", id, stream, reason);
    Request add = Request.cmd(Command.XADD).arg(deadLetterStream(stream)).arg("*").arg("source_id").arg(id).arg("reason").arg(reason);
    fields.forEach((k, v) -> add.arg("field_" + k).arg(v));
    return redis.send(add).mapEmpty();
  }

  /** Backlog over every shard: XLEN, the group's pending count and the oldest entry's id time. */
  public Future<Backlog> backlog(long nowMillis) {
    List<Future<long[]>> shards = new ArrayList<>();
    for (int shard = 0; shard < keys.shards(); shard++) {
      String stream = keys.usageStreamOfShard(shard);
      shards.add(redis.batch(List.of(
              Request.cmd(Command.XLEN).arg(stream),
              Request.cmd(Command.XPENDING).arg(stream).arg(GROUP),
              Request.cmd(Command.XRANGE).arg(stream).arg("-").arg("+").arg("COUNT").arg(1)))
          .map(replies -> {
            long length = replies.get(0).toLong();
            Response summary = replies.get(1);
            long pending = summary == null || summary.size() == 0 || summary.get(0) == null ? 0 : summary.get(0).toLong();
            Response first = replies.get(2);
            long age = 0;
            if (first != null && first.size() > 0) {
              String id = first.get(0).get(0).toString();
              age = Math.max(0, nowMillis - Long.parseLong(id.substring(0, id.indexOf('-'))));
            }
            return new long[] {length, pending, age};
          })
          // A stream or group that does not exist yet has no backlog.
          .recover(err -> err.getMessage() != null && err.getMessage().startsWith("NOGROUP")
              ? Future.succeededFuture(new long[] {0, 0, 0}) : Future.failedFuture(err)));
    }
    return Future.all(shards).map(all -> {
      long length = 0;
      long pending = 0;
      long age = 0;
      for (int i = 0; i < all.size(); i++) {
        long[] s = all.resultAt(i);
        length += s[0];
        pending += s[1];
        age = Math.max(age, s[2]);
      }
      return new Backlog(length, pending, age);
    });
  }

  /** The entries of an XREADGROUP reply: RESP3 answers a map {stream: entries}, RESP2 [[stream, entries]]. */
  static List<Response> entriesOf(Response reply) {
    List<Response> out = new ArrayList<>();
    if (reply == null) {
      return out;
    }
    if (reply.isMap()) {
      for (String key : reply.getKeys()) {
        reply.get(key).forEach(out::add);
      }
    } else {
      for (Response stream : reply) {
        stream.get(1).forEach(out::add);
      }
    }
    return out;
  }

  private static Map<String, String> fields(Response raw) {
    Map<String, String> out = new HashMap<>();
    if (raw == null) {
      return out;
    }
    if (!raw.isMap()) {
      for (int i = 0; i + 1 < raw.size(); i += 2) {
        out.put(raw.get(i).toString(), raw.get(i + 1).toString());
      }
    } else {
      for (String k : raw.getKeys()) {
        out.put(k, raw.get(k).toString());
      }
    }
    return out;
  }
}
