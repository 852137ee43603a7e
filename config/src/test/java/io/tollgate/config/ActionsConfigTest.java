package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Billable actions: tiers, actions and plan allowances")
class ActionsConfigTest {

  /** The seeds' catalog (004): small = 1 credit, medium = 2.5, large = 5, xl = 15. */
  private static final String CATALOG = """
      tiers: { small: 1, medium: 2.5, large: 5, xl: 15 }
      actions:
        agent_run: small
        image: { tier: medium }
        export: { credits: 3 }
      plans:
        free: { requestsPerMinute: 60, tokensPerMinute: 0, includedCredits: 0, allowances: { small: 10, medium: 4, large: 2, xl: 1 } }
        pro: { requestsPerMinute: 600, tokensPerMinute: 0, includedCredits: 0, allowances: { small: 2500, xl: 160 } }
      """;

  @Test
  @DisplayName("actions take their tier's price or their own; plans include an allowance per tier, none for tiers they omit")
  void catalog() {
    TollgateConfig c = load(CATALOG);
    // Prices in ledger units: 1 credit = 1,000.
    assertThat(c.actions().tiers()).isEqualTo(Map.of("small", 1_000L, "medium", 2_500L, "large", 5_000L, "xl", 15_000L));
    assertThat(c.actions().price("agent_run")).contains(new ActionCatalog.Price("agent_run", "small", 1_000));
    assertThat(c.actions().price("image")).contains(new ActionCatalog.Price("image", "medium", 2_500));
    assertThat(c.actions().price("export")).contains(new ActionCatalog.Price("export", null, 3_000));
    assertThat(c.actions().price("teleport")).isEqualTo(Optional.empty());
    assertThat(c.plan("free").allowance("medium")).isEqualTo(4);
    assertThat(c.plan("pro").allowance("xl")).isEqualTo(160);
    assertThat(c.plan("pro").allowance("medium")).isZero();
    assertThat(c.plan("pro").allowance(null)).isZero();
  }

  @Test
  @DisplayName("without tiers and actions the catalog is empty")
  void defaults() {
    assertThat(load("").actions()).isEqualTo(ActionCatalog.none());
    assertThat(load("").plan("free").allowances()).isEmpty();
  }

  @Test
  @DisplayName("an action naming an unknown tier is refused, naming the action and the known tiers")
  void unknownTier() {
    assertThat(problemsOf("tiers: { small: 1 }\nactions: { run: tiny }\n"))
        .containsExactly("tollgate.yaml: actions.run: names tier \"tiny\", which tiers does not define (known: small)");
  }

  @Test
  @DisplayName("an action with both a tier and credits, or neither, is refused")
  void tierOrCredits() {
    assertThat(problemsOf("tiers: { small: 1 }\nactions: { run: { tier: small, credits: 2 } }\n"))
        .containsExactly("tollgate.yaml: actions.run: expected either a tier or credits of its own (tier: small, or credits: 3)");
  }

  @Test
  @DisplayName("a negative price, or one finer than 0.001 credit, is refused naming the tier")
  void badPrice() {
    assertThat(problemsOf("tiers: { small: -1 }\n"))
        .containsExactly("tollgate.yaml: tiers.small: expected credits 0-1000000 with at most 3 decimals, got -1");
    assertThat(problemsOf("tiers: { small: 0.0005 }\n")).singleElement().asString()
        .startsWith("tollgate.yaml: tiers.small: expected credits 0-1000000 with at most 3 decimals, got 0.0005 has more than 3 decimals");
  }

  @Test
  @DisplayName("a price above 1,000,000 credits, or one that is no number, is refused naming the tier or the action")
  void priceOutOfBounds() {
    // 1,000,000 credits is the bound (allowance × price must stay exact in the Lua scripts); it is itself allowed.
    assertThat(load("tiers: { huge: 1000000 }\n").actions().tiers()).isEqualTo(Map.of("huge", 1_000_000_000L));
    assertThat(problemsOf("tiers: { huge: 1000000.001 }\n"))
        .containsExactly("tollgate.yaml: tiers.huge: expected credits 0-1000000 with at most 3 decimals, got 1000000.001");
    assertThat(problemsOf("tiers: { small: cheap }\n"))
        .containsExactly("tollgate.yaml: tiers.small: expected credits 0-1000000 with at most 3 decimals, got \"cheap\"");
    assertThat(problemsOf("actions: { run: { credits: 1000001 } }\n"))
        .containsExactly("tollgate.yaml: actions.run.credits: expected credits 0-1000000 with at most 3 decimals, got 1000001");
  }

  @Test
  @DisplayName("an allowance for a tier that does not exist, or a negative one, is refused naming the plan")
  void badAllowance() {
    assertThat(problemsOf("""
        tiers: { small: 1 }
        plans:
          free: { requestsPerMinute: 0, tokensPerMinute: 0, includedCredits: 0, allowances: { huge: 3, small: -1 } }
        """)).containsExactly(
        "tollgate.yaml: plans.free.allowances.huge: is not a tier (known: small)",
        "tollgate.yaml: plans.free.allowances.small: expected actions per period 0-1000000000, got -1");
  }

  @Test
  @DisplayName("an action name with a colon is refused (it would break reservation members)")
  void badActionName() {
    assertThat(problemsOf("tiers: { small: 1 }\nactions: { 'a:b': small }\n"))
        .containsExactly("tollgate.yaml: actions.a:b: expected an action name (1-64 letters, digits, '_', '-', '.')");
  }
}
