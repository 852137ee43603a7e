package io.tollgate.metering.redis;

import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A Lua script run by EVALSHA: one round trip per call. Loaded with SCRIPT LOAD at startup; a
 * {@code NOSCRIPT} answer (Redis restarted, SCRIPT FLUSH, or — in a Redis Cluster — a master that
 * has not run it yet) is answered by running it once with EVAL, which caches it on that node.
 *
 * <p>EVAL rather than SCRIPT LOAD then EVALSHA: SCRIPT LOAD names no key, so a cluster client
 * sends it to any node, not necessarily the master of the slot the keys hash to; EVAL carries the
 * keys and is routed to that master like EVALSHA. The SHA-1 is the source's, the same on every node.
 */
public final class LuaScript {

  private final String name;
  private final String source;
  private final String sha;

  private LuaScript(String name, String source) {
    this.name = name;
    this.source = source;
    this.sha = sha1(source);
  }

  private static String sha1(String source) {
    try {
      return java.util.HexFormat.of().formatHex(
          java.security.MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8)));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is required of every JVM", e);
    }
  }

  /** A script from its source; {@code name} only names it in errors. */
  public static LuaScript of(String name, String source) {
    return new LuaScript(name, source);
  }

  public static LuaScript fromClasspath(String resource) {
    try (InputStream in = LuaScript.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("missing Lua script " + resource);
      }
      return new LuaScript(resource, new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Caches the script on the node the client picks (in a cluster: one node; the others on first use). */
  public Future<Void> load(Redis redis) {
    return redis.send(Request.cmd(Command.SCRIPT).arg("LOAD").arg(source)).map(r -> {
      if (!sha.equals(r.toString())) {
        throw new IllegalStateException(name + ": Redis computed SHA-1 " + r + ", expected " + sha);
      }
      return null;
    });
  }

  public Future<Response> run(Redis redis, List<String> keys, List<String> args) {
    return redis.send(call(Request.cmd(Command.EVALSHA).arg(sha), keys, args))
        .recover(err -> {
          if (err.getMessage() != null && err.getMessage().startsWith("NOSCRIPT")) {
            return redis.send(call(Request.cmd(Command.EVAL).arg(source), keys, args));
          }
          return Future.failedFuture(err);
        });
  }

  /**
   * Runs the script, then {@code WAIT replicas timeoutMs} on the same connection (one
   * {@code batch}: in a cluster both go to the master of the script's slot), and hands the number
   * of replicas that acknowledged the script's writes to {@code acknowledged}. Answers the
   * script's result; a {@code NOSCRIPT} is answered as by {@link #run} (nothing ran, so the pair
   * is sent again with EVAL).
   */
  public Future<Response> runThenWait(Redis redis, List<String> keys, List<String> args, int replicas, long timeoutMs,
      java.util.function.IntConsumer acknowledged) {
    return redis.batch(List.of(call(Request.cmd(Command.EVALSHA).arg(sha), keys, args), waitFor(replicas, timeoutMs)))
        .recover(err -> {
          String message = err.getMessage() == null ? "" : err.getMessage();
          if (message.contains("NOSCRIPT")) {
            return redis.batch(List.of(call(Request.cmd(Command.EVAL).arg(source), keys, args), waitFor(replicas, timeoutMs)));
          }
          if (message.contains(" MOVED ") || message.contains(" ASK ")) {
            // A cluster client's batch does not follow redirections: the error comes back wrapped
            // ("ERR [0] MOVED …"). The node refused the script, so nothing ran: run it once more
            // alone, which follows the redirection, and without WAIT (answered as 0 replicas).
            return run(redis, keys, args).map(res -> {
              List<Response> unreplicated = new java.util.ArrayList<>(2);
              unreplicated.add(res);
              unreplicated.add(null);
              return unreplicated;
            });
          }
          return Future.failedFuture(err);
        })
        .map(replies -> {
          acknowledged.accept(replies.get(1) == null ? 0 : replies.get(1).toInteger());
          return replies.get(0);
        });
  }

  private static Request waitFor(int replicas, long timeoutMs) {
    return Request.cmd(Command.WAIT).arg(replicas).arg(timeoutMs);
  }

  public String sha() {
    return sha;
  }

  public String name() {
    return name;
  }

  public String source() {
    return source;
  }

  private static Request call(Request request, List<String> keys, List<String> args) {
    request.arg(keys.size());
    for (String key : keys) {
      request.arg(key);
    }
    for (String arg : args) {
      request.arg(arg);
    }
    return request;
  }

  @Override
  public String toString() {
    return "LuaScript[" + name + "]";
  }
}
