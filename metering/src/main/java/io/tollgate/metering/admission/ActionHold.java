package io.tollgate.metering.admission;

/**
 * What a billable action's reservation holds besides credits: its allowance units and the
 * allowance generation (period) they were taken from, so that settling or refunding gives back
 * only to the period they came from.
 */
public record ActionHold(String action, String tier, long quantity, long fromAllowance, long generation) {
}
