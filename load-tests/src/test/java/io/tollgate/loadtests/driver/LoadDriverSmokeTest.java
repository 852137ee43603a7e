package io.tollgate.loadtests.driver;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.loadtests.stub.StubOptions;
import io.tollgate.loadtests.stub.StubUpstream;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.junit5.VertxExtension;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short run of the driver against the stub upstream: the report must carry throughput, the
 * percentiles and zero errors. Nothing here asserts on speed.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("The load driver reports throughput, percentiles and errors")
class LoadDriverSmokeTest {

  private URI chat;

  @BeforeEach
  void stub(Vertx vertx) throws Exception {
    StubUpstream stub = new StubUpstream(StubOptions.defaults().withPort(0));
    vertx.deployVerticle(stub).await(10, TimeUnit.SECONDS);
    chat = URI.create("http://127.0.0.1:" + stub.actualPort() + "/v1/chat/completions");
  }

  private static DriverOptions options(String name, URI url, Scenario scenario, int rate, Path out) {
    return new DriverOptions(name, url, scenario, rate, 8, Duration.ofMillis(300), Duration.ofMillis(1200), List.of(),
        300, scenario.expected(), 1_000, out);
  }

  @Test
  @DisplayName("open loop at a fixed rate: every request answered, summary and files written")
  void openLoop(Vertx vertx, @TempDir Path out) throws Exception {
    RunResult result = LoadDriverMain.run(vertx, options("open", chat, Scenario.CHAT, 200, out)).await(60, TimeUnit.SECONDS);
    result.write(out);

    String summary = result.summary();
    assertThat(summary).contains("throughput", "req/s", "p50", "p90", "p99", "p99.9", "max", "from due time")
        .contains("responses 200=").contains("errors 0");
    assertThat(result.requests()).isPositive();
    assertThat(result.errorCount()).isZero();

    JsonObject json = new JsonObject(Files.readString(out.resolve("open.json")));
    assertThat(json.getString("mode")).isEqualTo("open");
    assertThat(json.getJsonObject("latencyMs").fieldNames()).contains("p50", "p90", "p99", "p999", "max");
    assertThat(json.getLong("errorCount")).isZero();
    assertThat(Files.readString(out.resolve("open.hgrm"))).contains("Value", "Percentile", "#[Max");
  }

  @Test
  @DisplayName("closed loop over SSE: time to first chunk reported, streams complete")
  void closedLoopSse(Vertx vertx) throws Exception {
    RunResult result = LoadDriverMain.run(vertx, options("sse", chat, Scenario.SSE, 0, null)).await(60, TimeUnit.SECONDS);

    assertThat(result.summary()).contains("closed loop", "throughput", "time to first chunk", "p99.9", "errors 0");
    assertThat(result.errorCount()).isZero();
    assertThat(result.toJson().getJsonObject("firstChunkMs").getLong("count")).isPositive();
  }

  @Test
  @DisplayName("an unexpected status and a refused connection are errors, by kind")
  void errorsByKind(Vertx vertx) throws Exception {
    URI missing = URI.create(chat.toString().replace("/v1/chat/completions", "/v1/nothing-here"));
    RunResult notFound = LoadDriverMain.run(vertx, options("e404", missing, Scenario.CHAT, 100, null)).await(60, TimeUnit.SECONDS);
    assertThat(notFound.errors()).containsOnlyKeys("http_404");
    assertThat(notFound.summary()).contains("http_404=");

    int closedPort;
    try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
      closedPort = socket.getLocalPort();
    }
    URI refused = URI.create("http://127.0.0.1:" + closedPort + "/v1/chat/completions");
    RunResult down = LoadDriverMain.run(vertx, options("down", refused, Scenario.CHAT, 50, null)).await(60, TimeUnit.SECONDS);
    assertThat(down.errors()).containsOnlyKeys("connect_refused");
  }

  @Test
  @DisplayName("an SSE stream counts as complete when [DONE] ends it, even split across chunks")
  void streamTail() {
    LoadDriver.StreamTail split = new LoadDriver.StreamTail();
    split.add(io.vertx.core.buffer.Buffer.buffer("data: {\"choices\":[]}\n\ndata: [DO"));
    split.add(io.vertx.core.buffer.Buffer.buffer("NE]\n\n"));
    assertThat(split.endsWithDone()).isTrue();

    LoadDriver.StreamTail cut = new LoadDriver.StreamTail();
    cut.add(io.vertx.core.buffer.Buffer.buffer("data: [DONE]\n\n"));
    cut.add(io.vertx.core.buffer.Buffer.buffer("data: {\"choices\":[{\"delta\":{\"content\":\"more\"}}]}\n\n"));
    assertThat(cut.endsWithDone()).isFalse();
  }
}
