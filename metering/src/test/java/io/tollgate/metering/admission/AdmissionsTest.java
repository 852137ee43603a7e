package io.tollgate.metering.admission;

import static io.tollgate.metering.testing.TestRedis.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.testing.MutableClock;
import io.tollgate.metering.testing.TestRedis;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UuidV7;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

@DisplayName("Admission and settlement scripts")
class AdmissionsTest {

  private static final AtomicLong ACCOUNTS = new AtomicLong(ThreadLocalRandom.current().nextLong(1_000_000, 2_000_000));
  @RegisterExtension
  static final TestRedis REDIS = new TestRedis(16, 10_000);
  private static final Vertx vertx = REDIS.vertx();
  private static final Redis redis = REDIS.client();

  private static AdmissionRequest request(long account, Limits key, Limits acct, long tokens, long credits) {
    return new AdmissionRequest(UuidV7.at(System.currentTimeMillis()), account, account * 10, key, acct, tokens, credits, CreditPolicy.ENFORCE);
  }

  private static UsageEvent event(Reservation r, long credits, String outcome) {
    return new UsageEvent(r.eventId(), r.accountId(), r.keyId(), "/v1/", "m", 10, 5, credits, 200, 3, false, outcome,
        System.currentTimeMillis());
  }

  @Test
  @DisplayName("1,000 concurrent admissions against a balance for exactly 137 admit exactly 137 and leave 0")
  void noOverspendUnderConcurrency() throws Exception {
    Admissions admissions = new Admissions(redis, new RedisKeys(16), java.time.Clock.systemUTC(), Duration.ofMinutes(5));
    long account = ACCOUNTS.incrementAndGet();
    long cost = 7;
    int affordable = 137;
    await(admissions.seedBalance(account, affordable * cost));
    List<Future<Decision>> all = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      all.add(admissions.admit(request(account, Limits.UNLIMITED, Limits.UNLIMITED, 15, cost)));
    }
    await(Future.join(all));
    List<Decision> decisions = all.stream().map(Future::result).toList();
    List<Decision> admitted = decisions.stream().filter(Decision::allowed).toList();
    assertThat(admitted).hasSize(affordable);
    assertThat(decisions).filteredOn(d -> !d.allowed()).allMatch(d -> d.denial() == Denial.CREDITS);
    assertThat(await(admissions.balance(account))).contains(0L);

    // Settle every admitted request at its full cost: granted = debited + balance, and one event each.
    String stream = admissions.keys().usageStream(account);
    long before = await(redis.send(Request.cmd(Command.XLEN).arg(stream))).toLong();
    List<Future<Long>> settles = admitted.stream()
        .map(d -> admissions.settle(d.reservation().orElseThrow(), event(d.reservation().get(), cost, "ok"))).toList();
    await(Future.join(new ArrayList<>(settles)));
    assertThat(await(admissions.balance(account))).contains(0L);
    long after = await(redis.send(Request.cmd(Command.XLEN).arg(stream))).toLong();
    assertThat(after - before).isEqualTo(affordable);
  }

  @Test
  @DisplayName("a 60/min request bucket admits 60 at once, then one per second, over ten simulated minutes")
  void tokenBucketRate() throws Exception {
    MutableClock clock = new MutableClock(1_700_000_000_000L);
    Admissions admissions = new Admissions(redis, new RedisKeys(16), clock, Duration.ofMinutes(5));
    long account = ACCOUNTS.incrementAndGet();
    int admitted = 0;
    // One attempt every 100 ms for 10 minutes: 6,000 attempts.
    for (int i = 0; i < 6000; i++) {
      Decision d = await(admissions.admit(new AdmissionRequest(UuidV7.at(clock.millis()), account, 1, new Limits(60, 0),
          Limits.UNLIMITED, 0, 0, CreditPolicy.NONE)));
      if (d.allowed()) {
        admitted++;
      } else {
        assertThat(d.denial()).isEqualTo(Denial.KEY_REQUESTS);
        assertThat(d.retryAfterMs()).isBetween(1L, 1000L);
      }
      clock.advanceMillis(100);
    }
    // Capacity 60 plus 599.9 s of refill at 1/s.
    assertThat(admitted).isBetween(659, 661);
  }

  @Test
  @DisplayName("each limit denies with its own reason and retry-after, and a denial changes nothing")
  void denialReasons() throws Exception {
    MutableClock clock = new MutableClock(1_700_000_000_000L);
    Admissions admissions = new Admissions(redis, new RedisKeys(16), clock, Duration.ofMinutes(5));
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 1_000));

    Decision tooBig = await(admissions.admit(request(account, new Limits(0, 100), Limits.UNLIMITED, 101, 1)));
    assertThat(tooBig.denial()).isEqualTo(Denial.TOO_LARGE);

    Decision first = await(admissions.admit(request(account, Limits.UNLIMITED, new Limits(1, 0), 1, 1)));
    assertThat(first.allowed()).isTrue();
    assertThat(first.remainingRequests()).isZero();
    assertThat(first.limitRequests()).isEqualTo(1);
    Decision second = await(admissions.admit(request(account, Limits.UNLIMITED, new Limits(1, 0), 1, 1)));
    assertThat(second.denial()).isEqualTo(Denial.ACCOUNT_REQUESTS);
    assertThat(second.retryAfterMs()).isEqualTo(60_000);

    Decision broke = await(admissions.admit(request(account, Limits.UNLIMITED, Limits.UNLIMITED, 1, 5_000)));
    assertThat(broke.denial()).isEqualTo(Denial.CREDITS);
    // Only the first admission held credits.
    assertThat(await(admissions.balance(account))).contains(999L);

    Decision unseeded = await(admissions.admit(request(ACCOUNTS.incrementAndGet(), Limits.UNLIMITED, Limits.UNLIMITED, 1, 1)));
    assertThat(unseeded.denial()).isEqualTo(Denial.UNSEEDED);
  }

  @Test
  @DisplayName("settling charges the actual cost and releases the rest; an upstream error refunds everything")
  void settleReleasesTheRest() throws Exception {
    Admissions admissions = new Admissions(redis, new RedisKeys(16), java.time.Clock.systemUTC(), Duration.ofMinutes(5));
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 100));
    Decision a = await(admissions.admit(request(account, Limits.UNLIMITED, Limits.UNLIMITED, 10, 40)));
    assertThat(await(admissions.balance(account))).contains(60L);
    assertThat(await(admissions.settle(a.reservation().orElseThrow(), event(a.reservation().get(), 15, "ok")))).isEqualTo(85);
    Decision b = await(admissions.admit(request(account, Limits.UNLIMITED, Limits.UNLIMITED, 10, 40)));
    assertThat(await(admissions.settle(b.reservation().orElseThrow(), event(b.reservation().get(), 0, "upstream_error")))).isEqualTo(85);
  }

  @Test
  @DisplayName("the sweeper refunds a reservation nobody settled, once; a late settle then charges only the actual cost")
  void sweeperRefunds() throws Exception {
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    RedisKeys keys = ownShard();
    Admissions admissions = new Admissions(redis, keys, clock, Duration.ofSeconds(30));
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 100));
    Decision abandoned = await(admissions.admit(request(account, Limits.UNLIMITED, Limits.UNLIMITED, 10, 40)));
    assertThat(await(admissions.balance(account))).contains(60L);

    assertThat(await(admissions.sweep(keys.shardOf(account)))).isZero();
    clock.advanceMillis(31_000);
    assertThat(await(admissions.sweep(keys.shardOf(account)))).isEqualTo(1);
    assertThat(await(admissions.balance(account))).contains(100L);
    assertThat(await(admissions.sweep(keys.shardOf(account)))).isZero();
    assertThat(await(admissions.balance(account))).contains(100L);

    // The gateway was only slow, not dead: its settle after the sweep charges the actual cost once.
    await(admissions.settle(abandoned.reservation().orElseThrow(), event(abandoned.reservation().get(), 12, "ok")));
    assertThat(await(admissions.balance(account))).contains(88L);
  }

  @Test
  @DisplayName("a key budget holds what open requests reserve, settles to the actual cost, and the sweeper gives an abandoned hold back once")
  void keyBudgetHoldSettleAndSweep() throws Exception {
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    RedisKeys keys = ownShard();
    Admissions admissions = new Admissions(redis, keys, clock, Duration.ofSeconds(30));
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 1_000));
    KeySpend budget = new KeySpend(account * 10, "life", 25, java.time.Instant.EPOCH);
    java.util.function.Supplier<AdmissionRequest> tenOfBudget = () -> new AdmissionRequest(UuidV7.at(clock.millis()), account, account * 10,
        Limits.UNLIMITED, Limits.UNLIMITED, 0, 10, CreditPolicy.ENFORCE, -1, budget);
    assertThat(await(admissions.admit(tenOfBudget.get())).denial()).as("no counter yet").isEqualTo(Denial.KEY_BUDGET_UNSEEDED);
    await(admissions.seedKeySpend(account, budget, 0));

    Decision first = await(admissions.admit(tenOfBudget.get()));
    Decision abandoned = await(admissions.admit(tenOfBudget.get()));
    assertThat(first.allowed()).isTrue();
    assertThat(abandoned.allowed()).isTrue();
    assertThat(await(admissions.admit(tenOfBudget.get())).denial()).as("20 held + 10 > 25").isEqualTo(Denial.KEY_BUDGET);
    assertThat(await(admissions.balance(account))).as("a denial takes nothing").contains(980L);

    await(admissions.settle(first.reservation().orElseThrow(), event(first.reservation().get(), 4, "ok")));
    assertThat(await(admissions.keySpend(account, account * 10, "life"))).contains(14L);
    clock.advanceMillis(31_000);
    assertThat(await(admissions.sweep(keys.shardOf(account)))).isEqualTo(1);
    assertThat(await(admissions.keySpend(account, account * 10, "life"))).contains(4L);
    assertThat(await(admissions.sweep(keys.shardOf(account)))).isZero();
    assertThat(await(admissions.keySpend(account, account * 10, "life"))).contains(4L);
    assertThat(await(admissions.admit(tenOfBudget.get())).allowed()).isTrue();
  }

  /**
   * A key layout with more shards than accounts, so each account's reservations have a shard of
   * their own and a sweep's count is exactly this test's abandoned reservations.
   */
  private static RedisKeys ownShard() {
    return new RedisKeys(1 << 24);
  }

  /** A request reserving 10 credits, no limits, under {@code policy}. */
  private static AdmissionRequest tenCredits(MutableClock clock, long account, CreditPolicy policy) {
    return new AdmissionRequest(UuidV7.at(clock.millis()), account, 1, Limits.UNLIMITED, Limits.UNLIMITED, 0, 10, policy);
  }

  @Test
  @DisplayName("CHARGE never refuses without a cap; the balance pays what it can, never below zero, the rest is overage; NONE leaves it alone")
  void chargeWithoutRefusing() throws Exception {
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    RedisKeys keys = ownShard();
    Admissions admissions = new Admissions(redis, keys, clock, Duration.ofSeconds(30));
    long account = ACCOUNTS.incrementAndGet();
    assertThat(await(admissions.admit(tenCredits(clock, account, CreditPolicy.CHARGE))).denial()).isEqualTo(Denial.UNSEEDED);
    await(admissions.seedBalance(account, 15));
    long[] actual = {9, 9, 9};
    for (long cost : actual) {
      Decision d = await(admissions.admit(tenCredits(clock, account, CreditPolicy.CHARGE)));
      assertThat(d.allowed()).isTrue();
      await(admissions.settle(d.reservation().orElseThrow(), event(d.reservation().get(), cost, "ok")));
    }
    // 27 used against 15 credits: the credits pay 9 + 6, and 0 + 3 + 9 = 12 is overage.
    assertThat(await(admissions.balance(account))).contains(0L);
    assertThat(await(admissions.overage(account))).isEqualTo(12L);
    assertThat(OverageFields.last(redis, keys, account, 3)).containsExactly(0L, 3L, 9L);

    // An abandoned CHARGE reservation is refunded by the sweeper like an ENFORCE one.
    Decision abandoned = await(admissions.admit(tenCredits(clock, account, CreditPolicy.CHARGE)));
    assertThat(await(admissions.balance(account))).contains(-10L);
    clock.advanceMillis(31_000);
    assertThat(await(admissions.sweep(keys.shardOf(account)))).isEqualTo(1);
    assertThat(await(admissions.balance(account))).contains(0L);
    assertThat(abandoned.allowed()).isTrue();

    Decision untouched = await(admissions.admit(tenCredits(clock, account, CreditPolicy.NONE)));
    await(admissions.settle(untouched.reservation().orElseThrow(), event(untouched.reservation().get(), 9, "ok")));
    assertThat(await(admissions.balance(account))).contains(0L);
  }

  @Test
  @DisplayName("a committed grant reaches a loaded balance, and leaves an unloaded one unloaded (the ledger seeds it later)")
  void grantIfLoaded() throws Exception {
    Admissions admissions = new Admissions(redis, new RedisKeys(16), java.time.Clock.systemUTC(), Duration.ofMinutes(5));
    long loaded = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(loaded, 100));
    assertThat(await(admissions.addCreditsIfLoaded(loaded, 250))).contains(350L);
    assertThat(await(admissions.addCreditsIfLoaded(loaded, -50))).contains(300L);
    assertThat(await(admissions.balance(loaded))).contains(300L);

    long unloaded = ACCOUNTS.incrementAndGet();
    assertThat(await(admissions.addCreditsIfLoaded(unloaded, 250))).isEmpty();
    assertThat(await(admissions.balance(unloaded))).isEmpty();
    // Seeded afterwards from the ledger (which holds the grant), the balance is not counted twice.
    assertThat(await(admissions.seedBalance(unloaded, 250))).isTrue();
    assertThat(await(admissions.balance(unloaded))).contains(250L);
  }

  @Test
  @DisplayName("after SCRIPT FLUSH (or a Redis restart) the scripts are reloaded on NOSCRIPT")
  void reloadsOnNoScript() throws Exception {
    Admissions admissions = new Admissions(redis, new RedisKeys(16), java.time.Clock.systemUTC(), Duration.ofMinutes(5));
    await(admissions.load());
    await(redis.send(Request.cmd(Command.SCRIPT).arg("FLUSH")));
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 10));
    assertThat(await(admissions.admit(request(account, Limits.UNLIMITED, Limits.UNLIMITED, 1, 1))).allowed()).isTrue();
  }
}
