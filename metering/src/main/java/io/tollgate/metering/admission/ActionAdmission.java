package io.tollgate.metering.admission;

/**
 * A billable action's part of an admission (the ingest API): the admission script takes what it
 * can from the tier's allowance and reserves the rest at the unit price, atomically with the rate
 * limits and the balance check.
 *
 * @param action      the action's name
 * @param tier        the tier whose allowance applies, or null (an action with credits of its own)
 * @param quantity    units of the action (at least 1)
 * @param allowance   the plan's allowance of the tier per period (0: none)
 * @param unitCredits credits one unit costs beyond the allowance, in ledger units
 * @param eventKey    the client's event id when the admission is idempotent by it (an event), else
 *                    null (a reservation)
 */
public record ActionAdmission(String action, String tier, long quantity, long allowance, long unitCredits, String eventKey) {

  /** Most units one event or reservation may carry: keeps quantity × price exact in the scripts. */
  public static final long MAX_QUANTITY = 1_000_000;
}
