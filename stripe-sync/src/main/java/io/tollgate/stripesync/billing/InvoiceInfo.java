package io.tollgate.stripesync.billing;

import java.time.Instant;

/**
 * An invoice as the admin API shows it. Amounts are in the currency's smallest unit (cents).
 *
 * @param status         draft, open, paid, uncollectible or void
 * @param subscriptionId the subscription that billed it, or {@code null} for a one-off invoice
 * @param billingReason  subscription_create, subscription_cycle, subscription_update, manual, ...
 */
public record InvoiceInfo(String id, String status, long amountDue, long amountPaid, String currency, String hostedInvoiceUrl,
                          String invoicePdf, Instant created, Instant periodStart, Instant periodEnd, String subscriptionId,
                          String billingReason) {
}
