package io.tollgate.loadtests.stub;

import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * {@code java -jar stub-upstream.jar [--port 9100] [--host 127.0.0.1] [--latency-ms 0] [--chunks 5]
 * [--chunk-delay-ms 0] [--event-loops 1]}.
 */
public final class StubUpstreamMain {

  private StubUpstreamMain() {
  }

  public static void main(String[] args) throws Exception {
    StubOptions options = StubOptions.defaults();
    int eventLoops = 1;
    for (int i = 0; i + 1 < args.length; i += 2) {
      String value = args[i + 1];
      switch (args[i]) {
        case "--port" -> options = options.withPort(Integer.parseInt(value));
        case "--host" -> options = options.withHost(value);
        case "--latency-ms" -> options = options.withLatency(Duration.ofMillis(Long.parseLong(value)));
        case "--chunks" -> options = options.withChunks(Integer.parseInt(value), options.chunkDelay());
        case "--chunk-delay-ms" -> options = options.withChunks(options.chunks(), Duration.ofMillis(Long.parseLong(value)));
        case "--event-loops" -> eventLoops = Integer.parseInt(value);
        default -> {
          System.err.println("unknown option " + args[i]);
          System.exit(2);
        }
      }
    }
    StubOptions chosen = options;
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(eventLoops));
    vertx.deployVerticle(() -> new StubUpstream(chosen), new DeploymentOptions().setInstances(eventLoops))
        .await(30, TimeUnit.SECONDS);
    System.out.println("stub upstream listening on http://" + chosen.host() + ":" + chosen.port() + "/v1/");
  }
}
