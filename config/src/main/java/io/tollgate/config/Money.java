package io.tollgate.config;

import java.math.BigDecimal;
import java.text.NumberFormat;
import java.util.Locale;
import java.util.Set;

/**
 * Money as Stripe carries it: an integer amount in the currency's smallest unit ({@code amount_due},
 * {@code amount}) and a lower-case ISO code. Shown the same way wherever a person reads it — the
 * console's invoices and the notice emails — so that a yen amount never gains two decimals in one
 * place and not in the other.
 */
public final class Money {

  /** Stripe's zero-decimal currencies: their amounts are whole units, with no minor unit. */
  private static final Set<String> ZERO_DECIMAL = Set.of("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW",
      "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF");

  private Money() {
  }

  /**
   * {@code 4900, "usd"} → "49.00 USD"; {@code 4900, "jpy"} → "4,900 JPY"; thousands grouped;
   * {@code orElse} when the amount is not a number (absent from the event).
   */
  public static String format(Object minorUnits, String currency, String orElse) {
    if (!(minorUnits instanceof Number n)) {
      return orElse;
    }
    String code = currency == null ? "" : currency.trim().toUpperCase(Locale.ROOT);
    int decimals = ZERO_DECIMAL.contains(code) ? 0 : 2;
    NumberFormat format = NumberFormat.getNumberInstance(Locale.ROOT);
    format.setMinimumFractionDigits(decimals);
    format.setMaximumFractionDigits(decimals);
    return format.format(BigDecimal.valueOf(n.longValue(), decimals)) + (code.isEmpty() ? "" : " " + code);
  }
}
