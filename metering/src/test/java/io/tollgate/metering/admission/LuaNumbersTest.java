package io.tollgate.metering.admission;

import static io.tollgate.metering.testing.TestRedis.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.testing.TestRedis;
import io.tollgate.metering.usage.UuidV7;
import io.vertx.redis.client.Redis;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Counts beyond 2^53 never reach the admission script, where they would round")
class LuaNumbersTest {

  private static final long TWO_TO_53 = 9_007_199_254_740_992L;
  @RegisterExtension
  static final TestRedis REDIS = new TestRedis();
  private static final Redis redis = REDIS.client();
  private static Admissions admissions;

  @BeforeAll
  static void connect() {
    admissions = new Admissions(redis, new RedisKeys(16), Clock.systemUTC(), Duration.ofMinutes(5));
  }

  private static AdmissionRequest request(long account, long tokens, long credits) {
    return new AdmissionRequest(UuidV7.at(System.currentTimeMillis()), account, 1, Limits.UNLIMITED, Limits.UNLIMITED, tokens,
        credits, CreditPolicy.ENFORCE);
  }

  @Test
  @DisplayName("a reservation of 2^53 + 1 against a balance of 2^53 is refused in Java (as a double it would equal the balance and pass)")
  void beyondTwoToThe53Refused() throws Exception {
    long account = ThreadLocalRandom.current().nextLong(7_000_000, 8_000_000);
    await(admissions.seedBalance(account, TWO_TO_53));
    assertThatThrownBy(() -> await(admissions.admit(request(account, 1, TWO_TO_53 + 1))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("reserveCredits").hasMessageContaining("2^53");
    assertThatThrownBy(() -> await(admissions.admit(request(account, TWO_TO_53 + 1, 1))))
        .hasMessageContaining("estimatedTokens");
    assertThat(await(admissions.balance(account))).contains(TWO_TO_53);

    Decision exact = await(admissions.admit(request(account, 1, TWO_TO_53)));
    assertThat(exact.allowed()).isTrue();
    assertThat(await(admissions.balance(account))).contains(0L);
  }
}
