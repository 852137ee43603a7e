package io.tollgate.metering;

import io.tollgate.embedded.EmbeddedRedis;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisAPI;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Issue 14 (8): a redis-server orphaned on a data directory is found and stopped by the next start. */
@DisplayName("Embedded Redis and a server left running on its directory")
class OrphanedRedisTest {

  @Test
  @DisplayName("starting again on a directory an orphaned server still uses leaves exactly one server, with the data")
  void orphanIsStoppedAndDataKept() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "orphaned-redis-");
    Vertx vertx = Vertx.vertx();
    EmbeddedRedis second = null;
    try {
      // The first server is started and then forgotten, as a Tollgate killed with -9 forgets it.
      String firstUrl = EmbeddedRedis.start(dir, 0).url();
      RedisAPI first = RedisAPI.api(Redis.createClient(vertx, firstUrl));
      first.set(List.of("written-before", "still-here")).await(10, TimeUnit.SECONDS);
      first.close();
      assertThat(redisServersOn(dir)).hasSize(1);

      second = EmbeddedRedis.start(dir, 0);

      assertThat(redisServersOn(dir)).as("redis-server processes whose working directory is %s", dir).hasSize(1);
      RedisAPI now = RedisAPI.api(Redis.createClient(vertx, second.url()));
      assertThat(now.get("written-before").await(10, TimeUnit.SECONDS)).hasToString("still-here");
      now.close();
    } finally {
      if (second != null) {
        second.close();
      }
      vertx.close().await(10, TimeUnit.SECONDS);
    }
  }

  /** Live redis-server processes whose working directory (Redis changes into its {@code dir}) is {@code dir}. */
  private static List<Long> redisServersOn(Path dir) throws IOException {
    Path real = dir.toRealPath();
    try (Stream<Path> entries = Files.list(Path.of("/proc"))) {
      return entries.filter(p -> p.getFileName().toString().matches("\\d+"))
          .filter(p -> {
            try {
              String cmdline = new String(Files.readAllBytes(p.resolve("cmdline")), StandardCharsets.UTF_8);
              return cmdline.contains("redis-server") && Files.readSymbolicLink(p.resolve("cwd")).equals(real);
            } catch (IOException e) {
              return false;
            }
          })
          .map(p -> Long.parseLong(p.getFileName().toString()))
          .toList();
    }
  }
}
