package io.tollgate.stripesync.billing;

import java.time.Instant;
import java.util.List;

/**
 * What a change of a subscription's prices would invoice at once, as Stripe's invoice preview
 * ({@code POST /v1/invoices/create_preview}) computed it: the prorations of the time left in the
 * current period (a credit for the old prices' unused time, a charge for the new prices' rest).
 *
 * @param amountDue     what the customer would be charged now (never negative: a credit stays on the customer's balance)
 * @param total         the invoice's total, negative when the change is a net credit
 * @param prorationDate the instant the prorations are computed at; pass it to the change itself so the charge equals this preview
 */
public record PlanChangePreview(String subscriptionId, long amountDue, long total, String currency, Instant prorationDate,
                                List<Line> lines) {

  public PlanChangePreview {
    lines = List.copyOf(lines);
  }

  /** One line of the preview: {@code amount} in the currency's smallest unit, negative for a credit. */
  public record Line(String description, long amount, String priceId, boolean proration, Instant periodStart, Instant periodEnd) {
  }
}
