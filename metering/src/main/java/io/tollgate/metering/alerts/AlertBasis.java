package io.tollgate.metering.alerts;

import io.tollgate.config.PlanConfig;
import io.tollgate.metering.accounts.Account;

/** What usage thresholds are a percentage of: the spend cap when the account has one, else the period's included credits. */
public final class AlertBasis {

  private AlertBasis() {
  }

  /** The allowance in credits, or 0 when the account has neither (then no threshold alert applies). */
  public static long of(Account account, PlanConfig plan) {
    if (account.spendCap() != null && account.spendCap() > 0) {
      return account.spendCap();
    }
    return Math.max(0, plan.includedCredits());
  }
}
