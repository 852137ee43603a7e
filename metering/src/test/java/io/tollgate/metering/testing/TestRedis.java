package io.tollgate.metering.testing;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisOptions;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A test class's own Vert.x and Redis client on the shared test Redis ({@link TestServices}),
 * closed after the class: {@code @RegisterExtension static final TestRedis REDIS = new TestRedis(16);}.
 */
public final class TestRedis implements AfterAllCallback {

  private final Vertx vertx = Vertx.vertx();
  private final Redis client;

  /** A pool of {@code maxPoolSize} connections and {@code maxPoolWaiting} queued requests. */
  public TestRedis(int maxPoolSize, int maxPoolWaiting) {
    this.client = Redis.createClient(vertx, new RedisOptions().setConnectionString(TestServices.get().redisUrl())
        .setMaxPoolSize(maxPoolSize).setMaxPoolWaiting(maxPoolWaiting));
  }

  /** The Redis client's default pool. */
  public TestRedis() {
    this.client = Redis.createClient(vertx, new RedisOptions().setConnectionString(TestServices.get().redisUrl()));
  }

  public Vertx vertx() {
    return vertx;
  }

  public Redis client() {
    return client;
  }

  /** Waits on the test thread for a future, at most 30 s. */
  public static <T> T await(Future<T> f) throws Exception {
    return f.await(30, TimeUnit.SECONDS);
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    client.close();
    vertx.close().await(10, TimeUnit.SECONDS);
  }
}
