package io.tollgate.metering.usage;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * One tier's allowance this period: included by the plan, used, and what is left. What counts as
 * used is the reader's: the ingest API's balance counts the units open reservations hold (the hot
 * counters), the admin usage summary and the console only the events of record.
 */
public record TierAllowance(String tier, long included, long used) {

  /**
   * Each of {@code tiers}, in their order: {@code included} per tier, {@code used} as a reader
   * summed it (a tier it has no entry for used none).
   */
  public static List<TierAllowance> of(Collection<String> tiers, ToLongFunction<String> included, Map<String, Long> used) {
    List<TierAllowance> out = new ArrayList<>(tiers.size());
    for (String tier : tiers) {
      out.add(new TierAllowance(tier, included.applyAsLong(tier), used.getOrDefault(tier, 0L)));
    }
    return out;
  }

  /** Units left, never below 0 (past the allowance actions are paid in credits). */
  public long remaining() {
    return Math.max(0, included - used);
  }

  /** Used as a share of included, 0 to 100 (capped: {@link #used} says how far over it went). */
  public int percent() {
    return included <= 0 ? (used > 0 ? 100 : 0) : (int) Math.min(100, used * 100 / included);
  }
}
