package io.tollgate.config;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class MoneyTest {

  @Test
  @DisplayName("two-decimal currencies: Stripe's cents become units and cents, thousands grouped, code upper-cased")
  void twoDecimals() {
    assertThat(Money.format(1500, "usd", "?")).isEqualTo("15.00 USD");
    assertThat(Money.format(123456789L, "eur", "?")).isEqualTo("1,234,567.89 EUR");
    assertThat(Money.format(-5, "usd", "?")).isEqualTo("-0.05 USD");
  }

  @Test
  @DisplayName("Stripe's zero-decimal currencies (JPY, KRW, …) are whole units: 4900 yen is 4,900 JPY, not 49.00")
  void zeroDecimals() {
    assertThat(Money.format(4900, "jpy", "?")).isEqualTo("4,900 JPY");
    assertThat(Money.format(15000, "KRW", "?")).isEqualTo("15,000 KRW");
  }

  @Test
  @DisplayName("an absent amount gives the caller's wording; an absent currency gives the bare amount")
  void absent() {
    assertThat(Money.format(null, "usd", "the amount due")).isEqualTo("the amount due");
    assertThat(Money.format("12", "usd", "—")).isEqualTo("—");
    assertThat(Money.format(250, null, "?")).isEqualTo("2.50");
  }
}
