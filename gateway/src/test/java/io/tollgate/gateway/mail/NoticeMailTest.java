package io.tollgate.gateway.mail;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class NoticeMailTest {

  @Test
  @DisplayName("a failed payment in yen names the amount Stripe sent in whole yen, as the console shows it (4,900 JPY, not 49.00 JPY)")
  void zeroDecimalCurrency() {
    NoticeMail mail = NoticeMail.of("payment_failed", "Acme", new JsonObject().put("amountDue", 4900).put("currency", "jpy"));
    assertThat(mail.text()).contains("We could not collect 4,900 JPY").doesNotContain("49.00");
    assertThat(mail.html()).contains("4,900 JPY");
  }

  @Test
  @DisplayName("a failed payment in dollars shows cents; one without an amount says so in words")
  void twoDecimalCurrencyAndMissingAmount() {
    assertThat(NoticeMail.of("payment_failed", "Acme", new JsonObject().put("amountDue", 1500).put("currency", "usd")).text())
        .contains("We could not collect 15.00 USD");
    assertThat(NoticeMail.of("payment_failed", "Acme", new JsonObject().put("currency", "usd")).text())
        .contains("We could not collect the amount due");
  }
}
