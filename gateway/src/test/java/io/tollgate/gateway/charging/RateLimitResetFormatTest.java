package io.tollgate.gateway.charging;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** README: resets are written "as OpenAI writes them: {@code 250ms}, {@code 1.5s}, {@code 2m3s}". */
@DisplayName("x-ratelimit-reset-* durations are written as the README documents")
class RateLimitResetFormatTest {

  @Test
  @DisplayName("the README's three examples: 250 ms, 1.5 s and 2 min 3 s")
  void readmeExamples() {
    assertThat(RateLimitHeaders.duration(250)).isEqualTo("250ms");
    assertThat(RateLimitHeaders.duration(1_500)).isEqualTo("1.5s");
    assertThat(RateLimitHeaders.duration(123_000)).isEqualTo("2m3s");
  }
}
