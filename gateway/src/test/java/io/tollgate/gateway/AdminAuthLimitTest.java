package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Issue 14 (5): wrong admin tokens are slowed per client IP; the right token is never locked out. */
@DisplayName("Admin token guessing is limited per client IP")
class AdminAuthLimitTest {

  /** The documented allowance: 10 wrong admin tokens per client IP per minute, then 429. */
  private static final int ALLOWED_PER_MINUTE = 10;

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  private static Tollgate gateway;

  @BeforeAll
  static void start() {
    gateway = GatewayHarness.start("routes: []\n", Map.of());
  }

  @AfterAll
  static void stop() {
    gateway.close();
  }

  @Test
  @DisplayName("past 10 wrong tokens a minute they get 429 with Retry-After, and the right token still passes")
  void wrongTokensAreLimitedRightTokenPasses() {
    Vertx vertx = Vertx.vertx();
    try {
      HttpTestClient client = new HttpTestClient(vertx);
      MultiMap wrong = MultiMap.caseInsensitiveMultiMap().add("authorization", "Bearer wrong-token-guess");
      List<HttpTestClient.Reply> replies = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        replies.add(GatewayHarness.await(client.send(HttpMethod.GET, gateway.adminPort(), "/admin/v1/accounts", wrong, null)));
      }
      assertThat(replies.subList(0, ALLOWED_PER_MINUTE)).allSatisfy(r -> assertThat(r.status()).isEqualTo(401));
      assertThat(replies.subList(ALLOWED_PER_MINUTE, replies.size())).allSatisfy(r -> {
        assertThat(r.status()).isEqualTo(429);
        assertThat(r.headers().get("content-type")).isEqualTo("application/problem+json");
        assertThat(Integer.parseInt(r.headers().get("retry-after"))).isBetween(1, 60);
        assertThat(r.text()).doesNotContain(GatewayHarness.ADMIN_TOKEN).doesNotContain("wrong-token-guess");
      });

      // The operator behind the same address is not locked out: the right token passes at once.
      HttpTestClient.Reply right = GatewayHarness.await(client.send(HttpMethod.GET, gateway.adminPort(), "/admin/v1/accounts",
          GatewayHarness.adminHeaders(), null));
      assertThat(right.status()).isEqualTo(200);

      // A correct token does not reset the count: the next guess is still refused.
      HttpTestClient.Reply again = GatewayHarness.await(client.send(HttpMethod.GET, gateway.adminPort(), "/admin/v1/accounts", wrong, null));
      assertThat(again.status()).isEqualTo(429);
    } finally {
      GatewayHarness.await(vertx.close());
    }
  }
}
