package io.tollgate.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** Keeps the repository's tollgate.yaml, which the README quick start runs, loadable and true to its comments. */
@DisplayName("The example tollgate.yaml")
class ExampleFileTest {

  /** Tests run in the module directory; the example sits at the repository root. */
  private static final Path EXAMPLE = Path.of("..", "tollgate.yaml");
  /** A commented-out route line: "  # - prefix: ..." or "  #   key: ...". */
  private static final Pattern COMMENTED_ROUTE_LINE = Pattern.compile("(?m)^  # (- |  )(?=\\w)");

  @Test
  @DisplayName("loads with an empty environment and routes /v1/ to the stub upstream with OpenAI usage, needing no secret")
  void loadsWithNoSecrets() {
    TollgateConfig c = ConfigLoader.load(Optional.of(EXAMPLE), Map.of());
    assertThat(c.routes()).singleElement().satisfies(route -> {
      assertThat(route.prefix()).isEqualTo("/v1/");
      assertThat(route.upstream()).isEqualTo(URI.create("http://127.0.0.1:9100/v1/"));
      assertThat(route.usage()).isEqualTo(UsageFormat.OPENAI);
      assertThat(route.upstreamKeyEnv()).isEmpty();
      assertThat(route.upstreamAuth()).isEqualTo(UpstreamAuth.NONE);
    });
    assertThat(c.pricing().models()).containsEntry("gpt-4o-mini", new ModelPrice(150_000, 600_000)).hasSizeGreaterThanOrEqualTo(2);
    assertThat(c.pricing().priceOf("unknown-model")).isEqualTo(new ModelPrice(1_000_000, 1_000_000));
    // The four plans of ../shared/seeds/004: Free, Starter, Pro and Max, with their monthly allowances per tier
    // (Free 10 small, 4 medium, 2 large, 1 xl; …), priced small 1, medium 2.5, large 5, xl 15 credits.
    assertThat(c.plans().keySet()).containsExactlyInAnyOrder("free", "starter", "pro", "max");
    assertThat(c.plan("free").requestsPerMinute()).isEqualTo(60);
    assertThat(c.plan("free").includedCredits()).isEqualTo(Credits.ofWhole(45));
    assertThat(c.plan("free").allowances()).isEqualTo(Map.of("small", 10L, "medium", 4L, "large", 2L, "xl", 1L));
    assertThat(c.plan("starter").allowances()).isEqualTo(Map.of("small", 250L, "medium", 100L, "large", 50L, "xl", 15L));
    assertThat(c.plan("pro").allowances()).isEqualTo(Map.of("small", 2_500L, "medium", 1_000L, "large", 500L, "xl", 160L));
    assertThat(c.plan("max").allowances()).isEqualTo(Map.of("small", 12_500L, "medium", 5_000L, "large", 2_500L, "xl", 800L));
    assertThat(c.actions().tiers()).isEqualTo(Map.of("small", Credits.ofWhole(1), "medium", 2_500L, "large", Credits.ofWhole(5),
        "xl", Credits.ofWhole(15)));
    // The README's examples report agent_run, image and export.
    assertThat(c.actions().price("agent_run")).hasValueSatisfying(p -> assertThat(p.tier()).isEqualTo("small"));
    assertThat(c.actions().price("image")).hasValueSatisfying(p -> assertThat(p.unitCredits()).isEqualTo(2_500L));
    assertThat(c.actions().price("export")).hasValueSatisfying(p -> {
      assertThat(p.tier()).isNull();
      assertThat(p.unitCredits()).isEqualTo(Credits.ofWhole(3));
    });
    assertThat(c.plan("starter").includedCredits()).isEqualTo(Credits.ofWhole(250 + 250 + 250 + 225));
    assertThat(c.plan("pro").includedCredits()).isEqualTo(Credits.ofWhole(2_500 + 2_500 + 2_500 + 2_400));
    assertThat(c.plan("max").includedCredits()).isEqualTo(Credits.ofWhole(12_500 + 12_500 + 12_500 + 12_000));
    assertThat(c.plan("pro").stripePrices()).containsExactly("price_pro_monthly");
    assertThat(c.redis().embedded()).isTrue();
    assertThat(c.postgres().embedded()).isTrue();
    assertThat(c.source()).contains(EXAMPLE);
  }

  @Test
  @DisplayName("its commented-out OpenAI and Anthropic routes load too once uncommented and their keys are set")
  void commentedRoutesAreValid() throws Exception {
    String uncommented = COMMENTED_ROUTE_LINE.matcher(Files.readString(EXAMPLE)).replaceAll("  $1");
    TollgateConfig c = ConfigLoader.fromYaml(uncommented, "tollgate.yaml (routes uncommented)",
        Map.of("OPENAI_API_KEY", "sk-test", "ANTHROPIC_API_KEY", "sk-ant-test"));
    assertThat(c.routes()).hasSize(3);
    RouteConfig openai = c.routes().get(1);
    assertThat(openai.upstreamKeyEnv()).contains("OPENAI_API_KEY");
    assertThat(openai.upstreamAuth()).isEqualTo(UpstreamAuth.BEARER);
    assertThat(openai.usage()).isEqualTo(UsageFormat.OPENAI);
    RouteConfig anthropic = c.routes().get(2);
    assertThat(anthropic.upstreamAuth()).isEqualTo(UpstreamAuth.X_API_KEY);
    assertThat(anthropic.usage()).isEqualTo(UsageFormat.ANTHROPIC);
    assertThat(anthropic.upstreamKey()).contains(Secret.of("sk-ant-test"));
  }
}
