package io.tollgate.metering.redis;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.internal.ContextInternal;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.ResponseType;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * A {@link LuaScript} whose calls made on one event loop in the same turn go to Redis together, as
 * one call of a wrapper script that runs the script once per call and answers an array of their
 * answers. One write and one reply instead of one per call: on the hot path that is one EVALSHA
 * for all the admissions (or settlements) that the requests read in one pass of the event loop
 * started, not one per request, which saves the syscalls and the Redis command overhead that
 * dominated a metered request's cost (issue 18, {@code load-tests/results/2026-11-29-batching.md}).
 *
 * <p>Each call keeps its own semantics: the wrapper runs the original script body unchanged, with
 * {@code KEYS} and {@code ARGV} bound to that call's own, one after the other in the order the
 * calls were made, all inside one atomic script execution. A call whose script raised an error gets
 * that error; the others are unaffected (Lua {@code pcall}). A call of a batch is therefore exactly
 * as atomic as it was alone, and what one call reads is what the calls before it left.
 *
 * <p>When a turn ends: the first call of a turn schedules the flush as an event-loop task, which
 * Netty runs after it has handled every ready socket of that wake-up, so nothing waits for a timer
 * and at low load a batch is a single call, sent as the plain script. Calls from outside an event
 * loop (worker threads, tests on the main thread) are sent at once, alone.
 *
 * <p>Redis Cluster: a script may only touch keys of one slot, so calls are grouped by the hash tag
 * of their first key (every key of a call shares it, see {@link RedisKeys}); a standalone server
 * takes every call of a turn in one batch.
 */
public final class BatchedScript {

  private final Redis redis;
  private final LuaScript script;
  private final LuaScript batch;
  private final int maxBatch;
  private final boolean bySlot;
  private final ReplicaWait wait;
  private final LongAdder waits = new LongAdder();
  private final LongAdder shortfalls = new LongAdder();
  /** The calls of the current turn, per event-loop thread (a thread only ever touches its own). */
  private final ThreadLocal<Turn> turns = ThreadLocal.withInitial(Turn::new);

  /**
   * @param maxBatch the most calls one batch carries (bounds how long one script execution blocks
   *                 Redis); 1 sends every call alone, as before batching
   * @param bySlot   true for a Redis Cluster: only calls whose keys share a hash tag go together
   */
  public BatchedScript(Redis redis, LuaScript script, int maxBatch, boolean bySlot) {
    this(redis, script, maxBatch, bySlot, ReplicaWait.OFF);
  }

  /**
   * @param wait every call (batched or alone) is followed on its connection by {@code WAIT} for
   *             that many replicas ({@link LuaScript#runThenWait}), unless {@link ReplicaWait#OFF}
   */
  public BatchedScript(Redis redis, LuaScript script, int maxBatch, boolean bySlot, ReplicaWait wait) {
    if (maxBatch < 1) {
      throw new IllegalArgumentException("maxBatch must be ≥ 1, got " + maxBatch);
    }
    this.redis = redis;
    this.script = script;
    this.batch = LuaScript.of(script.name() + " (batched)", wrapper(script.source()));
    this.maxBatch = maxBatch;
    this.bySlot = bySlot;
    this.wait = wait;
  }

  /**
   * WAIT for {@code replicas} replicas, at most {@code timeoutMs}, after each script call (batched
   * or alone); {@link #OFF}: no WAIT. The call's answer does not depend on what the WAIT answers.
   */
  public record ReplicaWait(int replicas, long timeoutMs) {
    public static final ReplicaWait OFF = new ReplicaWait(0, 0);

    public ReplicaWait {
      if (replicas < 0 || (replicas > 0 && timeoutMs < 1)) {
        throw new IllegalArgumentException("WAIT: replicas ≥ 0 and, when > 0, a timeout ≥ 1 ms; got " + replicas + ", " + timeoutMs);
      }
    }
  }

  /** Script calls followed by a WAIT so far (one per batch). */
  public long waits() {
    return waits.sum();
  }

  /** Of {@link #waits}, those that timed out with fewer replicas than asked (a redirected call counts as one). */
  public long shortfalls() {
    return shortfalls.sum();
  }

  private Future<Response> exec(LuaScript which, List<String> keys, List<String> args) {
    if (wait.replicas() == 0) {
      return which.run(redis, keys, args);
    }
    return which.runThenWait(redis, keys, args, wait.replicas(), wait.timeoutMs(), acked -> {
      waits.increment();
      if (acked < wait.replicas()) {
        shortfalls.increment();
      }
    });
  }

  /**
   * The wrapper script: ARGV[1] = n calls, ARGV[2i], ARGV[2i+1] = call i's number of keys and of
   * arguments, then every call's arguments; KEYS = every call's keys, in call order. Answers an
   * array with each call's answer, or for a call whose script raised an error a string: that error.
   */
  static String wrapper(String source) {
    return "local function tollgate_call(KEYS, ARGV)\n" + source + "\nend\n"
        + """
        local n = tonumber(ARGV[1])
        local out = {}
        local kpos, apos = 0, 1 + 2 * n
        for i = 1, n do
          local kc, ac = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
          local k, a = {}, {}
          for j = 1, kc do k[j] = KEYS[kpos + j] end
          for j = 1, ac do a[j] = ARGV[apos + j] end
          kpos, apos = kpos + kc, apos + ac
          local ok, res = pcall(tollgate_call, k, a)
          if ok then
            out[i] = res
          else
            if type(res) == 'table' then res = res.err or res.message or 'script error' end
            out[i] = 'ERR ' .. tostring(res)
          end
        end
        return out
        """;
  }

  /** Loads the script and its batch wrapper (see {@link LuaScript#load}). */
  public Future<Void> load() {
    return script.load(redis).compose(v -> batch.load(redis));
  }

  /** Runs the script with these keys and arguments: alone, or in this turn's batch. */
  public Future<Response> run(List<String> keys, List<String> args) {
    Context ctx = Vertx.currentContext();
    if (maxBatch == 1 || ctx == null || !ctx.isEventLoopContext() || !Context.isOnEventLoopThread()) {
      return exec(script, keys, args);
    }
    // The caller's own context completes its promise, so its callbacks run where they would have.
    Promise<Response> promise = ((ContextInternal) ctx).promise();
    Turn turn = turns.get();
    turn.calls.add(new Call(keys, args, promise));
    if (!turn.scheduled) {
      turn.scheduled = true;
      ctx.runOnContext(v -> flush(turn));
    }
    return promise.future();
  }

  private void flush(Turn turn) {
    List<Call> calls = turn.calls;
    turn.calls = new ArrayList<>();
    turn.scheduled = false;
    if (!bySlot) {
      send(calls);
      return;
    }
    Map<String, List<Call>> groups = new LinkedHashMap<>();
    for (Call c : calls) {
      groups.computeIfAbsent(hashTag(c.keys.get(0)), t -> new ArrayList<>()).add(c);
    }
    groups.values().forEach(this::send);
  }

  private void send(List<Call> calls) {
    for (int from = 0; from < calls.size(); from += maxBatch) {
      List<Call> chunk = calls.subList(from, Math.min(calls.size(), from + maxBatch));
      if (chunk.size() == 1) {
        Call c = chunk.get(0);
        exec(script, c.keys, c.args).onComplete(c.promise);
      } else {
        sendBatch(List.copyOf(chunk));
      }
    }
  }

  private void sendBatch(List<Call> calls) {
    List<String> keys = new ArrayList<>();
    List<String> args = new ArrayList<>(1 + 2 * calls.size());
    args.add(Integer.toString(calls.size()));
    for (Call c : calls) {
      args.add(Integer.toString(c.keys.size()));
      args.add(Integer.toString(c.args.size()));
      keys.addAll(c.keys);
    }
    for (Call c : calls) {
      args.addAll(c.args);
    }
    exec(batch, keys, args).onComplete(ar -> {
      if (ar.failed()) {
        // Nothing is known of any call (the connection may have dropped after Redis ran it): each
        // caller gets the failure, exactly as when it had sent its call alone.
        calls.forEach(c -> c.promise.tryFail(ar.cause()));
        return;
      }
      Response res = ar.result();
      for (int i = 0; i < calls.size(); i++) {
        Response one = res.get(i);
        if (one != null && one.type() == ResponseType.BULK) {
          calls.get(i).promise.tryFail(new ScriptError(script.name() + ": " + one));
        } else {
          calls.get(i).promise.tryComplete(one);
        }
      }
    });
  }

  /** The part of a key Redis Cluster hashes: between the first '{' and the next '}', if not empty. */
  static String hashTag(String key) {
    int open = key.indexOf('{');
    if (open >= 0) {
      int close = key.indexOf('}', open + 1);
      if (close > open + 1) {
        return key.substring(open + 1, close);
      }
    }
    return key;
  }

  /** The error one call of a batch raised in its script. */
  public static final class ScriptError extends RuntimeException {
    ScriptError(String message) {
      super(message);
    }
  }

  private record Call(List<String> keys, List<String> args, Promise<Response> promise) {
  }

  private static final class Turn {
    List<Call> calls = new ArrayList<>();
    boolean scheduled;
  }
}
