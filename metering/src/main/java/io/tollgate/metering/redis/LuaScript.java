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
 * {@code NOSCRIPT} answer (Redis restarted, or SCRIPT FLUSH) reloads it and retries once.
 */
public final class LuaScript {

  private final String name;
  private final String source;
  private volatile String sha;

  private LuaScript(String name, String source) {
    this.name = name;
    this.source = source;
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

  public Future<Void> load(Redis redis) {
    return redis.send(Request.cmd(Command.SCRIPT).arg("LOAD").arg(source)).map(r -> {
      sha = r.toString();
      return null;
    });
  }

  public Future<Response> run(Redis redis, List<String> keys, List<String> args) {
    Future<Void> ready = sha == null ? load(redis) : Future.succeededFuture();
    return ready.compose(v -> redis.send(evalsha(keys, args)))
        .recover(err -> {
          if (err.getMessage() != null && err.getMessage().startsWith("NOSCRIPT")) {
            return load(redis).compose(v -> redis.send(evalsha(keys, args)));
          }
          return Future.failedFuture(err);
        });
  }

  private Request evalsha(List<String> keys, List<String> args) {
    Request request = Request.cmd(Command.EVALSHA).arg(sha).arg(keys.size());
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
