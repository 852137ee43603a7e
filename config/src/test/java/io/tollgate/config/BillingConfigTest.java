package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Plan catalog, credit packs, webhooks and dunning settings")
class BillingConfigTest {

  private static final String CATALOG = """
      plans:
        free: { requestsPerMinute: 60, tokensPerMinute: 40000, includedCredits: 1000, models: [gpt-4o-mini] }
        pro:
          requestsPerMinute: 600
          tokensPerMinute: 400000
          includedCredits: 50000
          stripePrices: [price_proBase, price_proMetered]
          features: [streaming, batch]
          overage: bill
      routes:
        - { prefix: /v1/, upstream: 'http://127.0.0.1:9/v1/', usage: openai }
        - { prefix: /batch/, upstream: 'http://127.0.0.1:9/b/', usage: openai, feature: batch }
      billing:
        webhookToleranceSeconds: 60
        webhookMaxAttempts: 3
        webhookRetryBaseMs: 250
        gracePeriodDays: 3
        autoTopUpCooldownMinutes: 30
        checkoutSuccessUrl: https://app.example.com/billing/done
        checkoutCancelUrl: https://app.example.com/billing
        portalReturnUrl: https://app.example.com/account
        creditPacks:
          small: { credits: 100000, stripePrice: price_small, amount: 1000 }
          large: { credits: 1200000, stripePrice: price_large, amount: 10000, currency: eur }
      """;

  @Test
  @DisplayName("defaults: 5 min signature tolerance, 8 attempts from 5 s, 7-day grace, 10 min top-up cooldown, no packs, 14-day trials")
  void defaults() {
    BillingConfig c = load("").billing();
    assertThat(c).isEqualTo(new BillingConfig(Duration.ofMinutes(5), 8, Duration.ofSeconds(5), Duration.ofDays(7),
        Duration.ofMinutes(10), Optional.empty(), Optional.empty(), Optional.empty(), Map.of(), 14));
    PlanConfig free = load("").plan("free");
    assertThat(free.overage()).isEqualTo(PlanConfig.Overage.BLOCK);
    assertThat(free.allowsModel("anything")).isTrue();
    assertThat(free.stripePrices()).isEmpty();
  }

  @Test
  @DisplayName("a catalog maps Stripe prices to plans with their models, features and overage policy")
  void catalog() {
    TollgateConfig c = load(CATALOG);
    PlanConfig pro = c.plan("pro");
    assertThat(pro.stripePrices()).containsExactly("price_proBase", "price_proMetered");
    assertThat(pro.features()).containsExactly("streaming", "batch");
    assertThat(pro.overage()).isEqualTo(PlanConfig.Overage.BILL);
    assertThat(c.planForPrice("price_proMetered")).contains(pro);
    assertThat(c.planForPrice("price_unknown")).isEmpty();
    assertThat(c.plan("free").allowsModel("gpt-4o")).isFalse();
    assertThat(c.plan("free").allowsModel("gpt-4o-mini")).isTrue();
    assertThat(c.plan("free").allowsModel(null)).as("a request without a model").isTrue();
    assertThat(c.routes().get(1).feature()).contains("batch");
    assertThat(c.routes().get(0).feature()).isEmpty();
  }

  @Test
  @DisplayName("every billing key can be set; packs default to usd")
  void billingKeys() {
    BillingConfig c = load(CATALOG).billing();
    assertThat(c.webhookTolerance()).isEqualTo(Duration.ofSeconds(60));
    assertThat(c.webhookMaxAttempts()).isEqualTo(3);
    assertThat(c.webhookRetryBase()).isEqualTo(Duration.ofMillis(250));
    assertThat(c.gracePeriod()).isEqualTo(Duration.ofDays(3));
    assertThat(c.autoTopUpCooldown()).isEqualTo(Duration.ofMinutes(30));
    assertThat(c.checkoutSuccessUrl()).contains(URI.create("https://app.example.com/billing/done"));
    assertThat(c.portalReturnUrl()).contains(URI.create("https://app.example.com/account"));
    assertThat(c.creditPacks()).containsOnlyKeys("small", "large");
    assertThat(c.creditPacks().get("small")).isEqualTo(new BillingConfig.CreditPack("small", 100_000_000, "price_small", 1000, "usd"));
    assertThat(c.creditPacks().get("large").currency()).isEqualTo("eur");
  }

  @Test
  @DisplayName("a price selling two plans, a route feature no plan has, a bad overage and a bad price are each named")
  void catalogProblems() {
    assertThat(problemsOf("""
        plans:
          free: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 1, stripePrices: [price_a], overage: maybe }
          pro: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 1, stripePrices: [price_a, prod_x] }
        routes:
          - { prefix: /v1/, upstream: 'http://127.0.0.1:9/', feature: gold }
        """)).containsExactlyInAnyOrder(
        "tollgate.yaml: plans.free.overage: expected block | bill, got \"maybe\"",
        "tollgate.yaml: plans.pro.stripePrices: expected Stripe price ids (price_...), got \"prod_x\" at position 1",
        "tollgate.yaml: plans.pro.stripePrices: price_a already sells plans.free (a price sells one plan)",
        "tollgate.yaml: routes[0].feature: no plan includes feature \"gold\" (add it to a plan's features, or the route is closed to everyone)");
  }

  @Test
  @DisplayName("a credit pack needs credits, a price and an amount; its price may not also sell a plan")
  void packProblems() {
    assertThat(problemsOf("""
        plans:
          free: { requestsPerMinute: 1, tokensPerMinute: 1, includedCredits: 1, stripePrices: [price_a] }
        billing:
          creditPacks:
            empty: { currency: USD }
            clash: { credits: 5, stripePrice: price_a, amount: 100 }
        """)).containsExactlyInAnyOrder(
        "tollgate.yaml: billing.creditPacks.empty.credits: is required (credits the pack grants)",
        "tollgate.yaml: billing.creditPacks.empty.stripePrice: is required (the one-off Stripe price, price_...)",
        "tollgate.yaml: billing.creditPacks.empty.amount: is required (its price in the currency's smallest unit, charged by auto top-up)",
        "tollgate.yaml: billing.creditPacks.empty.currency: expected a three-letter ISO currency code in lower case (usd), got \"USD\"",
        "tollgate.yaml: billing.creditPacks.clash.stripePrice: price_a already sells plans.free");
  }

  @Test
  @DisplayName("a webhook secret in the file is refused; several secrets in the environment are all kept")
  void webhookSecrets() {
    assertThat(problemsOf("billing: { webhookSecret: whsec_123 }\n")).containsExactly(
        "tollgate.yaml: billing.webhookSecret: secrets come only from the environment: set STRIPE_WEBHOOK_SECRET");
    TollgateConfig c = load("", Map.of("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old"));
    assertThat(c.secrets().stripeWebhookSecrets()).extracting(Secret::reveal).containsExactly("whsec_new", "whsec_old");
    assertThat(load("").secrets().stripeWebhookSecrets()).isEqualTo(List.of());
  }
}
