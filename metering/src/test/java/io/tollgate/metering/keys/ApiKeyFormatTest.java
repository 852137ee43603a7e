package io.tollgate.metering.keys;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.keys.ApiKeyFormat.Problem;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Set;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("API key format")
class ApiKeyFormatTest {

  @Test
  @DisplayName("a generated key has the prefix, 32 random bytes in base62 and a valid checksum")
  void generated() {
    String key = ApiKeyFormat.generate(ApiKeyFormat.LIVE);
    assertThat(key).startsWith("tg_live_").hasSize(ApiKeyFormat.LENGTH).matches("tg_live_[0-9A-Za-z]+");
    assertThat(ApiKeyFormat.check(key)).isEqualTo(Problem.NONE);
    assertThat(ApiKeyFormat.check(ApiKeyFormat.generate(ApiKeyFormat.TEST))).isEqualTo(Problem.NONE);
  }

  @Test
  @DisplayName("any single mistyped character is caught by the checksum, without a lookup")
  void typosCaught() {
    String key = ApiKeyFormat.generate(ApiKeyFormat.TEST);
    for (int i = ApiKeyFormat.TEST.length(); i < key.length(); i++) {
      char c = key.charAt(i);
      char typo = c == 'a' ? 'b' : 'a';
      String mistyped = key.substring(0, i) + typo + key.substring(i + 1);
      assertThat(ApiKeyFormat.check(mistyped)).as("typo at %d", i).isEqualTo(Problem.CHECKSUM);
    }
  }

  @Test
  @DisplayName("missing, short, wrong-prefix and non-base62 keys are told apart")
  void shapes() {
    String key = ApiKeyFormat.generate(ApiKeyFormat.LIVE);
    assertThat(ApiKeyFormat.check(null)).isEqualTo(Problem.MISSING);
    assertThat(ApiKeyFormat.check("")).isEqualTo(Problem.MISSING);
    assertThat(ApiKeyFormat.check(key.substring(0, key.length() - 1))).isEqualTo(Problem.MALFORMED);
    assertThat(ApiKeyFormat.check("sk_live_" + key.substring(8))).isEqualTo(Problem.MALFORMED);
    assertThat(ApiKeyFormat.check(key.substring(0, 20) + "-" + key.substring(21))).isEqualTo(Problem.MALFORMED);
    for (Problem p : Problem.values()) {
      if (p.message() != null) {
        assertThat(p.message()).doesNotContain(key);
      }
    }
  }

  @Test
  @DisplayName("keys are unique and only their SHA-256 (32 bytes) is kept")
  void uniqueAndHashed() {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 1000; i++) {
      assertThat(seen.add(ApiKeyFormat.generate(ApiKeyFormat.LIVE))).isTrue();
    }
    String key = seen.iterator().next();
    assertThat(ApiKeyFormat.hash(key)).hasSize(32);
    // Expected digests computed outside the code under test, with `printf '%s' KEY | sha256sum`.
    assertThat(HexFormat.of().formatHex(ApiKeyFormat.hash("tg_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG123456")))
        .isEqualTo("8669f75e60394ec525f614f03010ac5df891be3c67b495a7b15b42ff4c7b2289");
    assertThat(HexFormat.of().formatHex(ApiKeyFormat.hash("abc")))
        .as("the FIPS 180-2 test vector").isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assertThat(ApiKeyFormat.last4(key)).isEqualTo(key.substring(key.length() - 4));
  }
}
