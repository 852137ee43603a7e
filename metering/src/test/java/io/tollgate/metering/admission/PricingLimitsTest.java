package io.tollgate.metering.admission;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.config.ModelPrice;
import io.tollgate.config.PricingConfig;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Pricing in units (0.001 credit): exact up to 2^53 units, capped there, never overflowing")
class PricingLimitsTest {

  private static final long TWO_TO_53 = 9_007_199_254_740_992L;

  private final Pricing pricing = new Pricing(new PricingConfig(Map.of(
      "dear", new ModelPrice(1_000_000_000, 1_000_000_000),
      "cheap", new ModelPrice(3, 3)), new ModelPrice(1_000_000, 1_000_000)));

  @Test
  @DisplayName("a cost just under 2^53 whose micro-credits overflow a long is still exact")
  void exactNearTheCap() {
    // 9,007,199,254,740 tokens × 1,000 credits per token = 9,007,199,254,740,000 (≤ 2^53); in micro-credits 9.0e21 > Long.MAX.
    assertThat(pricing.cost("dear", 0, 9_007_199_254_740L, 0)).isEqualTo(9_007_199_254_740_000L);
    assertThat(pricing.cost("dear", 0, 9_007_199_254_740L, 992)).isEqualTo(TWO_TO_53);
    // 1 credit per token: 2^53 − 1 exactly, a value a double still holds; rounding up adds nothing.
    assertThat(pricing.cost("other", TWO_TO_53 - 6, 0, 5)).isEqualTo(TWO_TO_53 - 1);
    // 3 credits per million: 3,000,000,000,000,001 tokens = 9,000,000,000.000003 → rounded up to 9,000,000,001.
    assertThat(pricing.cost("cheap", 3_000_000_000_000_001L, 0, 0)).isEqualTo(9_000_000_001L);
  }

  @Test
  @DisplayName("decimal prices in units: a request's cost is rounded up once to 0.001 credit, never per token")
  void roundedUpOncePerRequest() {
    // 150 credits per 1M tokens (config "input: 150") = 150,000 units per 1M = 0.15 unit a token.
    Pricing decimal = new Pricing(new PricingConfig(Map.of("m", new ModelPrice(150_000, 600_000)), new ModelPrice(0, 0)));
    assertThat(decimal.cost("m", 10, 0, 0)).as("1.5 units → 2").isEqualTo(2);
    assertThat(decimal.cost("m", 1_000, 0, 0)).as("exactly 150 units, 0.15 credits").isEqualTo(150);
    assertThat(decimal.cost("m", 1, 1, 0)).as("0.15 + 0.6 = 0.75 unit → 1").isEqualTo(1);
    assertThat(decimal.cost("m", 4, 10, 2_500)).as("0.6 + 6 = 6.6 units → 7, plus a 2.5-credit flat cost").isEqualTo(2_507);
    assertThat(decimal.cost("m", 0, 0, 0)).isZero();
  }

  @Test
  @DisplayName("a cost beyond 2^53, or one of Long.MAX tokens, is capped at 2^53 instead of overflowing")
  void cappedBeyond() {
    assertThat(pricing.cost("dear", 0, 9_007_199_254_741L, 0)).isEqualTo(TWO_TO_53);
    assertThat(pricing.cost("dear", Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE)).isEqualTo(TWO_TO_53);
    assertThat(pricing.cost("other", 15_372_286_728_091_286L, 0, 0)).isEqualTo(TWO_TO_53);
  }
}
