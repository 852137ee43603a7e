package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@DisplayName("Safe network defaults")
class NetworkDefaultsTest {

  /** 64 hex characters, what `openssl rand -hex 32` prints. */
  private static final String STRONG = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  private static final String SHORT = "0123456789abcdefghij";
  private static final String FIX = "generate one with `openssl rand -hex 32`, "
      + "or keep the admin API on this machine (server.adminHost: 127.0.0.1)";

  private static Map<String, String> token(String value) {
    return Map.of("TOLLGATE_ADMIN_TOKEN", value);
  }

  @Nested
  @DisplayName("admin bind address")
  class AdminHost {

    @Test
    @DisplayName("the admin port binds to 127.0.0.1 unless told otherwise, while the proxy port keeps 0.0.0.0")
    void loopbackByDefault() {
      ServerConfig server = load("").server();
      assertThat(server.adminHost()).isEqualTo("127.0.0.1");
      assertThat(server.host()).isEqualTo("0.0.0.0");
    }

    @Test
    @DisplayName("server.adminHost sets it, TOLLGATE_ADMIN_HOST overrides the file, and neither moves the proxy port")
    void fileAndEnvironment() {
      assertThat(load("server: { adminHost: 10.1.2.3 }", token(STRONG)).server().adminHost()).isEqualTo("10.1.2.3");
      ServerConfig server = load("server: { adminHost: 10.1.2.3 }", Map.of("TOLLGATE_ADMIN_HOST", "0.0.0.0",
          "TOLLGATE_ADMIN_TOKEN", STRONG)).server();
      assertThat(server.adminHost()).isEqualTo("0.0.0.0");
      assertThat(server.host()).isEqualTo("0.0.0.0");
      assertThat(load("", Map.of("TOLLGATE_HOST", "10.0.0.5")).server().adminHost()).isEqualTo("127.0.0.1");
    }

    @Test
    @DisplayName("an empty adminHost is refused")
    void empty() {
      assertThat(problemsOf("server: { adminHost: '' }")).containsExactly(
          "tollgate.yaml: server.adminHost: must not be empty (127.0.0.1 keeps the admin API on this machine)");
    }
  }

  @Nested
  @DisplayName("admin token strength")
  class TokenStrength {

    @Test
    @DisplayName("a token under 32 characters is refused on a non-loopback admin API, saying how to make one, without echoing it")
    void shortTokenRefused() {
      List<String> problems = problemsOf("server: { adminHost: 0.0.0.0 }", token(SHORT));
      assertThat(problems).containsExactly("environment: TOLLGATE_ADMIN_TOKEN: is 20 characters, fewer than 32, and the "
          + "admin API listens on 0.0.0.0, beyond this machine: " + FIX);
      assertThat(String.join("\n", problems)).doesNotContain(SHORT);
    }

    @Test
    @DisplayName("the token the README used to print is refused on a non-loopback admin API, even when set by TOLLGATE_ADMIN_HOST")
    void readmeTokenRefused() {
      assertThat(problemsOf("", Map.of("TOLLGATE_ADMIN_HOST", "0.0.0.0", "TOLLGATE_ADMIN_TOKEN", "dev-admin-token")))
          .containsExactly("environment: TOLLGATE_ADMIN_TOKEN: is a token printed in Tollgate's documentation, and the "
              + "admin API listens on 0.0.0.0, beyond this machine: " + FIX);
    }

    @Test
    @DisplayName("a published token is refused for being published, a reason length alone would miss were it long")
    void publishedTokenNamedAsSuch() {
      String published = "dev-admin-token";
      assertThat(problemsOf("server: { adminHost: 10.0.0.1 }", token(published))).singleElement().asString()
          .contains("printed in Tollgate's documentation");
    }

    @Test
    @DisplayName("a 64-character random token is accepted on every interface")
    void strongTokenAccepted() {
      assertThat(load("server: { adminHost: 0.0.0.0 }", token(STRONG)).secrets().adminToken()).contains(Secret.of(STRONG));
    }

    @ParameterizedTest(name = "adminHost {0}")
    @ValueSource(strings = {"127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]", "0:0:0:0:0:0:0:1"})
    @DisplayName("on a loopback-only admin API short and published tokens are accepted")
    void loopbackAcceptsAnything(String host) {
      assertThat(load("server: { adminHost: '" + host + "' }", token("dev-admin-token")).secrets().adminToken())
          .contains(Secret.of("dev-admin-token"));
      assertThat(load("server: { adminHost: '" + host + "' }", token(SHORT)).secrets().adminToken()).isPresent();
    }

    @ParameterizedTest(name = "adminHost {0}")
    @ValueSource(strings = {"0.0.0.0", "::", "10.0.0.1", "192.0.2.2", "admin.internal", "localhost.example.com", "128.0.0.1"})
    @DisplayName("any other bind address counts as reachable from elsewhere")
    void notLoopback(String host) {
      assertThat(problemsOf("server: { adminHost: '" + host + "' }", token(SHORT))).singleElement().asString()
          .startsWith("environment: TOLLGATE_ADMIN_TOKEN: is 20 characters");
    }

    @Test
    @DisplayName("without a token there is nothing to refuse: the admin API stays closed (503)")
    void noToken() {
      assertThat(load("server: { adminHost: 0.0.0.0 }").secrets().adminToken()).isEmpty();
    }

    @Test
    @DisplayName("every admin token written out literally in the README, docs, deploy files and scripts is refused off loopback")
    void documentedTokensRefused() throws IOException {
      Set<String> found = documentedTokens();
      assertThat(found).as("tokens found in the docs").contains("bench-admin-token");
      for (String documented : found) {
        assertThat(problemsOf("server: { adminHost: 0.0.0.0 }", token(documented))).as(documented).singleElement();
      }
      assertThat(problemsOf("server: { adminHost: 0.0.0.0 }", token("dev-admin-token"))).singleElement();
    }

    /** Literal values after TOLLGATE_ADMIN_TOKEN= / : and "Bearer ", skipping variables ($...) and placeholders (...). */
    private static Set<String> documentedTokens() throws IOException {
      Pattern literal = Pattern.compile("(?:TOLLGATE_ADMIN_TOKEN\\s*[=:]\\s*[\"']?|Bearer )([A-Za-z0-9_.~+/-]{4,})");
      Set<String> tokens = new LinkedHashSet<>();
      List<Path> roots = List.of(Path.of("..", "README.md"), Path.of("..", "docs"), Path.of("..", "deploy"),
          Path.of("..", "load-tests"), Path.of("..", "Dockerfile"), Path.of("..", "tollgate.yaml"));
      for (Path root : roots) {
        try (Stream<Path> files = Files.walk(root)) {
          for (Path file : files.filter(Files::isRegularFile)
              .filter(f -> f.toString().matches(".*(\\.md|\\.ya?ml|\\.sh|\\.in|Dockerfile)$"))
              .filter(f -> !f.toString().contains("target")).toList()) {
            Matcher m = literal.matcher(Files.readString(file));
            while (m.find()) {
              tokens.add(m.group(1));
            }
          }
        }
      }
      return tokens;
    }
  }

  @Nested
  @DisplayName("TLS files for upstreams")
  class Tls {

    @TempDir
    Path dir;

    /** A real certificate in PEM (public: safe to keep in the test's source). */
    private Path pem(String name) throws IOException {
      try (var in = NetworkDefaultsTest.class.getResourceAsStream("/tls/test-ca.pem")) {
        Path file = dir.resolve(name);
        Files.write(file, in.readAllBytes());
        return file;
      }
    }

    private Path key() throws IOException {
      // Only the shape is checked at startup; Vert.x parses the key when it first connects.
      return Files.writeString(dir.resolve("client.key"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    }

    @Test
    @DisplayName("upstreamClient.tls and a route's tls land in their records; a route without tls has none of its own")
    void read() throws IOException {
      Path ca = pem("ca.pem");
      Path cert = pem("client.pem");
      Path key = key();
      TollgateConfig c = load("""
          upstreamClient: { tls: { caFile: '%1$s' } }
          routes:
            - { prefix: /a/, upstream: 'https://a.internal/', tls: { caFile: '%1$s', certFile: '%2$s', keyFile: '%3$s' } }
            - { prefix: /b/, upstream: 'https://b.internal/' }
          """.formatted(ca, cert, key));
      assertThat(c.upstreamClient().tls()).isEqualTo(new UpstreamTls(Optional.of(ca), Optional.empty(), Optional.empty()));
      assertThat(c.routes().get(0).tls()).contains(new UpstreamTls(Optional.of(ca), Optional.of(cert), Optional.of(key)));
      assertThat(c.routes().get(1).tls()).isEmpty();
      assertThat(load("").upstreamClient().tls()).isEqualTo(UpstreamTls.DEFAULT);
    }

    @Test
    @DisplayName("a missing CA file, a file that is not PEM, and a key that is not a private key are refused with their key paths")
    void badFiles() throws IOException {
      Path notPem = Files.writeString(dir.resolve("notes.txt"), "hello");
      Path cert = pem("client.pem");
      Path missing = dir.resolve("missing.pem");
      assertThat(problemsOf("""
          upstreamClient: { tls: { caFile: '%s' } }
          routes:
            - { prefix: /a/, upstream: 'https://a.internal/', tls: { caFile: '%s', certFile: '%s', keyFile: '%s' } }
          """.formatted(missing, notPem, cert, cert))).containsExactly(
          "tollgate.yaml: upstreamClient.tls.caFile: no such file: " + missing.toAbsolutePath(),
          "tollgate.yaml: routes[0].tls.caFile: not a PEM certificate file: " + notPem
              + " (" + certificateError(notPem) + ")",
          "tollgate.yaml: routes[0].tls.keyFile: no PEM private key in " + cert + " (expected -----BEGIN PRIVATE KEY-----)");
    }

    private static String certificateError(Path file) {
      try (var in = Files.newInputStream(file)) {
        java.security.cert.CertificateFactory.getInstance("X.509").generateCertificates(in);
        throw new AssertionError("expected " + file + " not to parse");
      } catch (Exception e) {
        return e.getMessage();
      }
    }

    @Test
    @DisplayName("a client certificate needs its key and the reverse")
    void certAndKeyTogether() throws IOException {
      Path cert = pem("client.pem");
      Path key = key();
      assertThat(problemsOf("upstreamClient: { tls: { certFile: '" + cert + "' } }")).containsExactly(
          "tollgate.yaml: upstreamClient.tls.keyFile: is required with certFile (a client certificate needs its private key)");
      assertThat(problemsOf("routes: [ { prefix: /a/, upstream: 'https://a/', tls: { keyFile: '" + key + "' } } ]"))
          .containsExactly("tollgate.yaml: routes[0].tls.certFile: is required with keyFile (a client certificate needs its private key)");
    }

    @Test
    @DisplayName("tls on a plain http route is refused, and unknown tls keys are named")
    void misplaced() throws IOException {
      Path ca = pem("ca.pem");
      assertThat(problemsOf("routes: [ { prefix: /a/, upstream: 'http://a/', tls: { caFile: '" + ca + "' } } ]"))
          .containsExactly("tollgate.yaml: routes[0].tls: applies to https upstreams only, and upstream is http://");
      assertThat(problemsOf("upstreamClient: { tls: { trustAll: true } }"))
          .containsExactly("tollgate.yaml: upstreamClient.tls.trustAll: unknown key (known: caFile, certFile, keyFile)");
    }
  }
}
