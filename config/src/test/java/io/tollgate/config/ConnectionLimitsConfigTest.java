package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Connection caps and the request-header timeout: defaults, file, environment, and one refusal per rule")
class ConnectionLimitsConfigTest {

  @Test
  @DisplayName("defaults: 10000 proxy connections, 256 admin connections, 10 s for a request head")
  void defaults() {
    ServerConfig s = load("").server();
    assertThat(s.maxConnections()).isEqualTo(10_000);
    assertThat(s.adminMaxConnections()).isEqualTo(256);
    assertThat(s.headerTimeout()).isEqualTo(Duration.ofSeconds(10));
  }

  @Test
  @DisplayName("read from the file; TOLLGATE_MAX_CONNECTIONS wins over it")
  void fromFileAndEnvironment() {
    String yaml = "server: { maxConnections: 50, adminMaxConnections: 5, requestHeaderTimeoutMs: 750 }";
    ServerConfig s = load(yaml).server();
    assertThat(s.maxConnections()).isEqualTo(50);
    assertThat(s.adminMaxConnections()).isEqualTo(5);
    assertThat(s.headerTimeout()).isEqualTo(Duration.ofMillis(750));
    assertThat(load(yaml, Map.of("TOLLGATE_MAX_CONNECTIONS", "70")).server().maxConnections()).isEqualTo(70);
  }

  @Test
  @DisplayName("a cap of 0 is refused: a port that takes no connection is a mistake, not a setting")
  void zeroCap() {
    assertThat(problemsOf("server: { maxConnections: 0 }")).containsExactly(
        "tollgate.yaml: server.maxConnections: expected an integer 1-1000000, got 0");
    assertThat(problemsOf("server: { adminMaxConnections: 0 }")).containsExactly(
        "tollgate.yaml: server.adminMaxConnections: expected an integer 1-100000, got 0");
  }

  @Test
  @DisplayName("a header timeout under 100 ms is refused")
  void tinyHeaderTimeout() {
    assertThat(problemsOf("server: { requestHeaderTimeoutMs: 5 }")).containsExactly(
        "tollgate.yaml: server.requestHeaderTimeoutMs: expected an integer 100-600000, got 5");
  }

  @Test
  @DisplayName("a non-numeric TOLLGATE_MAX_CONNECTIONS is refused, naming the variable")
  void badEnvironment() {
    assertThat(problemsOf("", Map.of("TOLLGATE_MAX_CONNECTIONS", "lots"))).singleElement().asString()
        .startsWith("environment: TOLLGATE_MAX_CONNECTIONS: ");
  }
}
