package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SelfSignedCertificate;
import io.vertx.junit5.VertxExtension;
import io.vertx.junit5.VertxTestContext;
import java.util.Map;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * HTTPS upstreams whose certificates chain to a private CA (here a self-signed certificate made
 * for the test, the CA of a self-hosted model server), trusted per route through PEM files.
 */
@ExtendWith(VertxExtension.class)
@DisplayName("TLS upstreams: a route trusts the CA file it names, presents a client certificate for mTLS, and TLS failures answer upstream_tls_error")
class UpstreamTlsTest {

  private static final Vertx upstreamVertx = Vertx.vertx();
  private static SelfSignedCertificate upstreamCert;
  private static SelfSignedCertificate otherCa;
  private static SelfSignedCertificate clientCert;
  private static HttpServer tlsUpstream;
  private static HttpServer mtlsUpstream;
  private static Tollgate http1;
  private static Tollgate http2;

  @BeforeAll
  static void start() {
    upstreamCert = SelfSignedCertificate.create("localhost");
    otherCa = SelfSignedCertificate.create("localhost");
    clientCert = SelfSignedCertificate.create("tollgate-client");
    tlsUpstream = GatewayHarness.await(upstreamVertx.createHttpServer(new HttpServerOptions()
            .setSsl(true).setUseAlpn(true).setKeyCertOptions(upstreamCert.keyCertOptions()))
        .requestHandler(UpstreamTlsTest::answer).listen(0, "127.0.0.1"));
    mtlsUpstream = GatewayHarness.await(upstreamVertx.createHttpServer(new HttpServerOptions()
            .setSsl(true).setUseAlpn(true).setKeyCertOptions(upstreamCert.keyCertOptions())
            .setClientAuth(ClientAuth.REQUIRED).setTrustOptions(clientCert.trustOptions()))
        .requestHandler(UpstreamTlsTest::answer).listen(0, "127.0.0.1"));
    String routes = """
        routes:
          - { prefix: /trusted/, upstream: 'https://localhost:%1$d/', metered: false, tls: { caFile: '%3$s' } }
          - { prefix: /wrong-name/, upstream: 'https://127.0.0.1:%1$d/', metered: false, tls: { caFile: '%3$s' } }
          - { prefix: /jvm-trust/, upstream: 'https://localhost:%1$d/', metered: false }
          - { prefix: /other-ca/, upstream: 'https://localhost:%1$d/', metered: false, tls: { caFile: '%4$s' } }
          - prefix: /mtls/
            upstream: 'https://localhost:%2$d/'
            metered: false
            tls: { caFile: '%3$s', certFile: '%5$s', keyFile: '%6$s' }
          - { prefix: /mtls-anonymous/, upstream: 'https://localhost:%2$d/', metered: false, tls: { caFile: '%3$s' } }
        """.formatted(tlsUpstream.actualPort(), mtlsUpstream.actualPort(), upstreamCert.certificatePath(),
        otherCa.certificatePath(), clientCert.certificatePath(), clientCert.privateKeyPath());
    http1 = GatewayHarness.start(routes, Map.of());
    http2 = GatewayHarness.start("upstreamClient: { http2: true }\n" + routes, Map.of());
  }

  @AfterAll
  static void stop() {
    http1.close();
    http2.close();
    GatewayHarness.await(upstreamVertx.close());
    upstreamCert.delete();
    otherCa.delete();
    clientCert.delete();
  }

  /** Answers JSON, or an SSE stream for paths ending in /stream, saying which protocol and client certificate it saw. */
  private static void answer(HttpServerRequest request) {
    String client;
    try {
      client = request.connection().peerCertificates().isEmpty() ? "none"
          : ((java.security.cert.X509Certificate) request.connection().peerCertificates().get(0)).getSubjectX500Principal().getName();
    } catch (SSLPeerUnverifiedException e) {
      client = "none";
    }
    request.response().putHeader("x-upstream-version", request.version().name()).putHeader("x-upstream-client", client);
    if (request.path().endsWith("/stream")) {
      request.response().setChunked(true).putHeader("content-type", "text/event-stream");
      request.response().write("data: {\"n\":1}\n\n");
      request.response().write("data: {\"n\":2}\n\n");
      request.response().end("data: [DONE]\n\n");
    } else {
      request.response().putHeader("content-type", "application/json").end(new JsonObject().put("ok", true).encode());
    }
  }

  private static void assertTlsError(HttpTestClient.Reply reply) {
    assertThat(reply.status()).isEqualTo(502);
    assertThat(reply.json().getJsonObject("error").getString("code")).isEqualTo("upstream_tls_error");
  }

  @Test
  @DisplayName("JSON comes back through an HTTPS upstream signed by the route's CA file")
  void json(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).get(http1.proxyPort(), "/trusted/chat").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertThat(reply.status()).isEqualTo(200);
      assertThat(reply.json().getBoolean("ok")).isTrue();
      assertThat(reply.headers().get("x-upstream-version")).isEqualTo("HTTP_1_1");
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("an SSE stream comes back whole through the HTTPS upstream")
  void sse(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).get(http1.proxyPort(), "/trusted/stream").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertThat(reply.status()).isEqualTo(200);
      assertThat(reply.headers().get("content-type")).startsWith("text/event-stream");
      assertThat(reply.text()).isEqualTo("data: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: [DONE]\n\n");
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("with upstreamClient.http2 on, JSON and SSE reach the private-CA upstream over h2")
  void overHttp2(Vertx vertx, VertxTestContext test) {
    HttpTestClient client = new HttpTestClient(vertx);
    client.get(http2.proxyPort(), "/trusted/chat")
        .compose(json -> client.get(http2.proxyPort(), "/trusted/stream").map(sse -> new HttpTestClient.Reply[] {json, sse}))
        .onComplete(test.succeeding(replies -> test.verify(() -> {
          assertThat(replies[0].status()).isEqualTo(200);
          assertThat(replies[0].json().getBoolean("ok")).isTrue();
          assertThat(replies[0].headers().get("x-upstream-version")).isEqualTo("HTTP_2");
          assertThat(replies[1].status()).isEqualTo(200);
          assertThat(replies[1].text()).isEqualTo("data: {\"n\":1}\n\ndata: {\"n\":2}\n\ndata: [DONE]\n\n");
          assertThat(replies[1].headers().get("x-upstream-version")).isEqualTo("HTTP_2");
          test.completeNow();
        })));
  }

  @Test
  @DisplayName("a route with a client certificate passes an upstream that requires one, and the upstream sees it")
  void mutualTls(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).get(http1.proxyPort(), "/mtls/chat").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertThat(reply.status()).isEqualTo(200);
      assertThat(reply.headers().get("x-upstream-client")).isEqualTo("CN=tollgate-client");
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("a certificate the JVM does not trust answers 502 upstream_tls_error")
  void untrustedByJvm(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).get(http1.proxyPort(), "/jvm-trust/chat").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertTlsError(reply);
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("a trusted certificate for another host name (localhost, reached as 127.0.0.1) answers 502 upstream_tls_error: the CA file does not turn off host name checks")
  void hostNameStillVerified(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).get(http1.proxyPort(), "/wrong-name/chat").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertTlsError(reply);
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("a certificate not signed by the route's CA file answers 502 upstream_tls_error")
  void otherCa(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).get(http1.proxyPort(), "/other-ca/chat").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertTlsError(reply);
      test.completeNow();
    })));
  }

  @Test
  @DisplayName("without the client certificate an mTLS upstream's refusal answers 502 upstream_tls_error")
  void mutualTlsWithoutCertificate(Vertx vertx, VertxTestContext test) {
    new HttpTestClient(vertx).get(http1.proxyPort(), "/mtls-anonymous/chat").onComplete(test.succeeding(reply -> test.verify(() -> {
      assertTlsError(reply);
      test.completeNow();
    })));
  }
}
