package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("The public port survives hostile connections: capped, timed out, never smuggled into, never forwarding '..'")
class HostileEdgeTest {

  private static final int CAP = 50;
  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Tollgate gateway;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("""
        server: { maxConnections: %d, requestHeaderTimeoutMs: 1000 }
        routes:
          - { prefix: /v1/, upstream: "%s/v1/", usage: openai }
          - { prefix: /openai/, upstream: "%s/echo/", metered: false }
        """.formatted(CAP, harness.stubBase(), harness.stubBase()), Map.of("STRIPE_WEBHOOK_SECRET", "whsec_edge_0123456789"));
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  private static double open() {
    return gateway.registry().get("tollgate_connections_open").tag("port", "proxy").gauge().value();
  }

  private static void eventually(String what, Supplier<Boolean> condition) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (!condition.get()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 15 s: " + what);
      }
      await(vertx.timer(20));
    }
  }

  @Test
  @DisplayName("with maxConnections 50 held by half-sent requests, connection 51 is closed on arrival and the admin /health still answers")
  void connectionCap() throws IOException {
    eventually("earlier tests' connections closed", () -> open() == 0);
    List<Socket> held = new ArrayList<>();
    try {
      for (int i = 0; i < CAP; i++) {
        Socket s = RawHttp.open(gateway.proxyPort());
        // A complete head whose body never comes: the request is in progress, so no header timeout applies.
        RawHttp.send(s, "POST /webhooks/stripe HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n");
        held.add(s);
      }
      eventually("50 connections open", () -> open() == CAP);

      try (Socket extra = RawHttp.open(gateway.proxyPort())) {
        try {
          RawHttp.send(extra, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
        } catch (java.net.SocketException alreadyClosed) {
          // The server may close it before the request is even written: the outcome asserted below.
        }
        assertThat(RawHttp.readUntilClosed(extra)).as("closed without an answer").isEmpty();
      }
      assertThat(gateway.registry().get("tollgate_connections_refused").tag("port", "proxy").counter().count()).isEqualTo(1);
      assertThat(await(new HttpTestClient(vertx).get(gateway.adminPort(), "/health/live")).status()).isEqualTo(200);

      held.remove(0).close();
      eventually("one slot free again", () -> open() == CAP - 1);
      try (Socket again = RawHttp.open(gateway.proxyPort())) {
        RawHttp.send(again, "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertThat(RawHttp.readUntilClosed(again)).startsWith("HTTP/1.1 404");
      }
    } finally {
      for (Socket s : held) {
        s.close();
      }
    }
  }

  @Test
  @DisplayName("a connection whose request head never finishes, or that sends nothing, is closed after the header timeout")
  void headerTimeout() throws IOException {
    try (Socket slow = RawHttp.open(gateway.proxyPort()); Socket silent = RawHttp.open(gateway.proxyPort())) {
      RawHttp.send(slow, "GET /openai/models HTTP/1.1\r\nHost: x\r\nX-Slow: 1");
      assertThat(RawHttp.readUntilClosed(slow)).isEmpty();
      assertThat(RawHttp.readUntilClosed(silent)).isEmpty();
    }
    assertThat(gateway.registry().get("tollgate_connections_header_timeouts").tag("port", "proxy").counter().count())
        .isGreaterThanOrEqualTo(2);
  }

  @Test
  @DisplayName("Content-Length with Transfer-Encoding: one answer, then the connection is closed; bytes after the last chunk are never a request")
  void contentLengthWithTransferEncoding() throws IOException {
    try (Socket s = RawHttp.open(gateway.proxyPort())) {
      RawHttp.send(s, "POST /openai/first HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
          + "0\r\n\r\nGET /openai/smuggled HTTP/1.1\r\nHost: x\r\nx-stub-record: true\r\n\r\n");
      String transcript = RawHttp.readUntilClosed(s);
      assertThat(RawHttp.responses(transcript)).as(transcript).isEqualTo(1);
      assertThat(transcript.toLowerCase()).contains("connection: close");
      assertThat(transcript).doesNotContain("smuggled");
    }
    // A request sent after the connection closed reaches the stub; the smuggled one, which would
    // have been forwarded before that close, must not be there.
    try (Socket s = RawHttp.open(gateway.proxyPort())) {
      RawHttp.send(s, "GET /openai/after HTTP/1.1\r\nHost: x\r\nx-stub-record: true\r\nConnection: close\r\n\r\n");
      assertThat(RawHttp.readUntilClosed(s)).startsWith("HTTP/1.1 200");
    }
    eventually("the later request recorded upstream",
        () -> harness.stub.received().stream().anyMatch(r -> r.uri().contains("/after")));
    assertThat(harness.stub.received()).noneMatch(r -> r.uri().contains("smuggled"));
  }

  @Test
  @DisplayName("an absolute-form request target reaches the upstream as its path alone, never with a '..' segment")
  void absoluteFormTarget() throws IOException {
    try (Socket s = RawHttp.open(gateway.proxyPort())) {
      RawHttp.send(s, "GET http://a../openai/models?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      String transcript = RawHttp.readUntilClosed(s);
      assertThat(transcript).startsWith("HTTP/1.1 200");
      assertThat(transcript).contains("\"uri\":\"/echo/models?x=1\"").doesNotContain("..");
    }
    try (Socket s = RawHttp.open(gateway.proxyPort())) {
      RawHttp.send(s, "GET http://a/openai/../v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      String transcript = RawHttp.readUntilClosed(s);
      assertThat(transcript).startsWith("HTTP/1.1 400").contains("invalid_path");
    }
  }
}
