package io.tollgate.config;

import java.util.Map;
import java.util.Optional;

/**
 * Billable actions an application reports itself (an agent run, an image, an export), priced in
 * tiers ({@code tiers:} and {@code actions:} in the file). Prices are ledger units (millicredits,
 * {@link Credits}); allowances per tier live on each plan ({@link PlanConfig#allowances()}).
 *
 * @param tiers   tier name → units one action of that tier costs
 * @param actions action name → its price: a tier, or credits of its own (then no allowance covers it)
 */
public record ActionCatalog(Map<String, Long> tiers, Map<String, Action> actions) {

  /** Tier names: short, and never a ':' (they travel inside reservation members). */
  public static final java.util.regex.Pattern TIER_NAME = java.util.regex.Pattern.compile("[A-Za-z0-9_-]{1,32}");
  /** Action names, as clients send them (and as CloudEvents {@code type}s): no ':' either. */
  public static final java.util.regex.Pattern ACTION_NAME = java.util.regex.Pattern.compile("[A-Za-z0-9_.-]{1,64}");

  public ActionCatalog {
    tiers = Map.copyOf(tiers);
    actions = Map.copyOf(actions);
  }

  /** No tiers, no actions: the ingest API refuses every action as unknown. */
  public static ActionCatalog none() {
    return new ActionCatalog(Map.of(), Map.of());
  }

  /**
   * One action's price.
   *
   * @param tier    the tier it belongs to, or null when it has credits of its own
   * @param credits its own price per unit; ignored when {@code tier} is set
   */
  public record Action(String name, String tier, long credits) {
  }

  /** What one unit of an action costs and which tier's allowance covers it (none: {@code tier} is null). */
  public record Price(String action, String tier, long unitCredits) {
  }

  /** The action's price, or empty when the action is not configured. */
  public Optional<Price> price(String action) {
    Action a = action == null ? null : actions.get(action);
    if (a == null) {
      return Optional.empty();
    }
    return Optional.of(a.tier() == null ? new Price(a.name(), null, a.credits()) : new Price(a.name(), a.tier(), tiers.get(a.tier())));
  }
}
