package io.tollgate.metering.admission;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.config.ModelPrice;
import io.tollgate.config.PlanConfig;
import io.tollgate.config.PricingConfig;
import io.tollgate.metering.keys.KeyBudget;
import io.tollgate.metering.keys.KeyGrant;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.testing.MutableClock;
import io.tollgate.metering.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Redis;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * What a proxied request and a billable action are admitted under, as {@link AdmissionService}
 * builds them from a key's grant and its plan. The gateway tests cover the proxied request's
 * limits, policy and cap end to end; a billable action's are checked here, beside the request's,
 * so that the two keep applying the same rules.
 */
@DisplayName("Admission requests: a proxied request's and a billable action's limits, credit policy and overage cap")
class AdmissionRequestsTest {

  private static final Instant PERIOD_START = Instant.parse("2025-03-01T00:00:00Z");
  /** 100 requests and 50,000 tokens a minute; bills overage (for a hybrid account). */
  private static final PlanConfig PLAN = new PlanConfig("scale", 100, 50_000, 0, PlanConfig.DEFAULT_ALERT_THRESHOLDS,
      List.of(), List.of(), List.of(), PlanConfig.Overage.BILL, Map.of("small", 10L));
  private static final ActionAdmission TIERED = new ActionAdmission("agent_run", "small", 3, 10, 1_000, "ev-1");
  private static final ActionAdmission UNTIERED = new ActionAdmission("export", null, 4, 0, 3_000, "ev-2");

  private static Vertx vertx;
  private static Redis redis;
  private static AdmissionService service;

  @BeforeAll
  static void connect() {
    vertx = Vertx.vertx();
    redis = Redis.createClient(vertx, TestServices.get().redisUrl());
    MutableClock clock = new MutableClock(PERIOD_START.plus(Duration.ofDays(3)).toEpochMilli());
    Admissions admissions = new Admissions(redis, new RedisKeys(16), clock, Duration.ofMinutes(5));
    PricingConfig pricing = new PricingConfig(Map.of(), new ModelPrice(1_000_000, 2_000_000));
    service = new AdmissionService(admissions, pricing, account -> Future.succeededFuture(), clock);
  }

  @AfterAll
  static void close() throws Exception {
    redis.close();
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  private static KeyGrant grant(String billingMode, Long spendCap, Long keyRpm, Long keyTpm, Long accountRpm, Long accountTpm,
                                KeyBudget budget) {
    return new KeyGrant(11, 7, PLAN.name(), billingMode, "active", spendCap, keyRpm, keyTpm, accountRpm, accountTpm,
        new JsonObject(), null, null, budget, PERIOD_START);
  }

  private static AdmissionRequest proxied(KeyGrant grant) {
    return service.request(grant, PLAN, true, "m", 10, 20, 30, 5);
  }

  @Test
  @DisplayName("limits: the key's own (none: 0) and the account's own, else its plan's; an action is limited by requests only")
  void limits() {
    KeyGrant own = grant("prepaid", null, 6L, 600L, 8L, 800L, null);
    assertThat(proxied(own).keyLimits()).isEqualTo(new Limits(6, 600));
    assertThat(proxied(own).accountLimits()).isEqualTo(new Limits(8, 800));
    assertThat(service.actionRequest(own, PLAN, TIERED).keyLimits()).isEqualTo(new Limits(6, 0));
    assertThat(service.actionRequest(own, PLAN, TIERED).accountLimits()).isEqualTo(new Limits(8, 0));

    KeyGrant plans = grant("prepaid", null, null, null, null, null, null);
    assertThat(proxied(plans).keyLimits()).isEqualTo(Limits.UNLIMITED);
    assertThat(proxied(plans).accountLimits()).isEqualTo(new Limits(100, 50_000));
    assertThat(service.actionRequest(plans, PLAN, TIERED).keyLimits()).isEqualTo(Limits.UNLIMITED);
    assertThat(service.actionRequest(plans, PLAN, TIERED).accountLimits()).isEqualTo(new Limits(100, 0));
  }

  @Test
  @DisplayName("credit policy and overage cap by billing mode: a hybrid account's spend cap bounds its overage, for actions too")
  void policyAndCap() {
    expect(grant("prepaid", 9_000L, null, null, null, null, null), CreditPolicy.ENFORCE, -1);
    expect(grant("postpaid", null, null, null, null, null, null), CreditPolicy.NONE, -1);
    expect(grant("postpaid", 9_000L, null, null, null, null, null), CreditPolicy.ENFORCE, -1);
    expect(grant("hybrid", null, null, null, null, null, null), CreditPolicy.CHARGE, -1);
    expect(grant("hybrid", 9_000L, null, null, null, null, null), CreditPolicy.CHARGE, 9_000);
  }

  private static void expect(KeyGrant g, CreditPolicy policy, long overageCap) {
    String what = g.billingMode() + " with spend cap " + g.spendCap();
    for (AdmissionRequest r : List.of(proxied(g), service.actionRequest(g, PLAN, TIERED), service.actionRequest(g, PLAN, UNTIERED))) {
      assertThat(r.credits()).as(what).isEqualTo(policy);
      assertThat(r.overageCap()).as(what).isEqualTo(overageCap);
    }
  }

  @Test
  @DisplayName("what each reserves and carries: a request its worst case and tokens, an action its untiered price and itself")
  void reserveTokensActionAndBudget() {
    KeyGrant budgeted = grant("prepaid", null, null, null, null, null, new KeyBudget(50_000, KeyBudget.PERIOD, 11));
    AdmissionRequest request = proxied(budgeted);
    // 10 input tokens at 1,000,000 units per 1M and 20 output at 2,000,000 per 1M: 10 + 40 units, plus the flat 5.
    assertThat(request.reserveCredits()).isEqualTo(55);
    assertThat(request.estimatedTokens()).isEqualTo(30);
    assertThat(request.action()).isNull();
    assertThat(service.request(budgeted, PLAN, false, "m", 10, 20, 30, 5).reserveCredits()).as("unmetered: the flat cost").isEqualTo(5);
    assertThat(service.request(budgeted, PLAN, false, "m", 10, 20, 30, 5).estimatedTokens()).isZero();

    AdmissionRequest tiered = service.actionRequest(budgeted, PLAN, TIERED);
    assertThat(tiered.reserveCredits()).as("the script prices what the allowance leaves").isZero();
    assertThat(tiered.estimatedTokens()).isZero();
    assertThat(tiered.action()).isEqualTo(TIERED);
    assertThat(service.actionRequest(budgeted, PLAN, UNTIERED).reserveCredits()).isEqualTo(12_000);

    KeySpend spend = new KeySpend(11, "p" + PERIOD_START.getEpochSecond(), 50_000, PERIOD_START);
    for (AdmissionRequest r : List.of(request, tiered)) {
      assertThat(r.accountId()).isEqualTo(7);
      assertThat(r.keyId()).isEqualTo(11);
      assertThat(r.keySpend()).isEqualTo(spend);
    }
    assertThat(proxied(grant("prepaid", null, null, null, null, null, null)).keySpend()).isNull();
  }
}
