package io.tollgate.metering.admission;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.testing.MutableClock;
import io.tollgate.metering.testing.TestRedis;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UuidV7;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Redis;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A hybrid account that bills overage: its credits pay first, and only what they do not cover is
 * overage (what reaches the Stripe meter). Expected values are the spec's arithmetic: overage =
 * max(0, used − credits available), whatever the order in which concurrent requests settle.
 */
@DisplayName("Hybrid overage: only usage beyond the credits is overage, exactly, under concurrency")
class HybridOverageTest {

  private static final AtomicLong ACCOUNTS = new AtomicLong(ThreadLocalRandom.current().nextLong(5_000_000, 6_000_000));
  @RegisterExtension
  static final TestRedis REDIS = new TestRedis(32, 10_000);
  private static final Vertx vertx = REDIS.vertx();
  private static final Redis redis = REDIS.client();

  private static <T> T await(Future<T> f) throws Exception {
    return f.await(60, TimeUnit.SECONDS);
  }

  private static AdmissionRequest charge(MutableClock clock, long account, long reserve, long cap) {
    return new AdmissionRequest(UuidV7.at(clock.millis()), account, 1, Limits.UNLIMITED, Limits.UNLIMITED, 0, reserve,
        CreditPolicy.CHARGE, cap);
  }

  private static UsageEvent used(Reservation r, long credits) {
    return new UsageEvent(r.eventId(), r.accountId(), r.keyId(), "/v1/", "m", 10, 5, credits, 200, 3, false, "ok",
        System.currentTimeMillis());
  }

  @Test
  @DisplayName("300 requests admitted at once and settled in shuffled order against 1,000 credits: overage is exactly Σused − 1,000")
  void concurrentSettlesSplitExactly() throws Exception {
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    RedisKeys keys = new RedisKeys(16);
    Admissions admissions = new Admissions(redis, keys, clock, Duration.ofMinutes(5));
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 1_000));

    List<Future<Decision>> admitted = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      admitted.add(admissions.admit(charge(clock, account, 20, -1)));
    }
    await(Future.all(admitted));
    List<Reservation> held = new ArrayList<>();
    for (Future<Decision> d : admitted) {
      assertThat(d.result().allowed()).as("no cap: never refused").isTrue();
      held.add(d.result().reservation().orElseThrow());
    }
    Collections.shuffle(held, new Random(7));
    Random costs = new Random(11);
    long total = 0;
    List<Future<Long>> settled = new ArrayList<>();
    for (Reservation r : held) {
      long cost = 1 + costs.nextInt(15);
      total += cost;
      settled.add(admissions.settle(r, used(r, cost)));
    }
    await(Future.all(settled));

    long overage = OverageFields.last(redis, keys, account, 300).stream().mapToLong(Long::longValue).sum();
    assertThat(total).as("the test must run past the credits").isGreaterThan(1_000);
    assertThat(overage).isEqualTo(total - 1_000);
    assertThat(await(admissions.overage(account))).isEqualTo(total - 1_000);
    assertThat(await(admissions.balance(account))).contains(0L);
  }

  @Test
  @DisplayName("a top-up after overage is not spent on usage already billed: it pays the next usage in full")
  void topUpAfterOverage() throws Exception {
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    RedisKeys keys = new RedisKeys(16);
    Admissions admissions = new Admissions(redis, keys, clock, Duration.ofMinutes(5));
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 100));
    settleOne(admissions, clock, account, 150);
    assertThat(await(admissions.balance(account))).contains(0L);

    await(admissions.addCreditsIfLoaded(account, 100));
    settleOne(admissions, clock, account, 60);
    // 150 used against 100 → 50 overage; the 100 top-up then pays the next 60 without overage.
    assertThat(OverageFields.last(redis, keys, account, 2)).containsExactly(50L, 0L);
    assertThat(await(admissions.balance(account))).contains(40L);
  }

  @Test
  @DisplayName("a spend cap of 30 on overage admits exactly what 10 credits plus 30 of overage can pay, until the period resets it")
  void capBoundsOverage() throws Exception {
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    RedisKeys keys = new RedisKeys(16);
    Admissions admissions = new Admissions(redis, keys, clock, Duration.ofMinutes(5));
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 10));

    List<Future<Decision>> tries = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      tries.add(admissions.admit(charge(clock, account, 10, 30)));
    }
    await(Future.all(tries));
    List<Reservation> held = new ArrayList<>();
    for (Future<Decision> d : tries) {
      if (d.result().allowed()) {
        held.add(d.result().reservation().orElseThrow());
      } else {
        assertThat(d.result().denial()).isEqualTo(Denial.CREDITS);
      }
    }
    assertThat(held).as("(10 credits + 30 overage) / 10 per request").hasSize(4);
    for (Reservation r : held) {
      await(admissions.settle(r, used(r, 10)));
    }
    assertThat(await(admissions.overage(account))).isEqualTo(30L);
    assertThat(await(admissions.admit(charge(clock, account, 10, 30))).denial()).isEqualTo(Denial.CREDITS);

    await(admissions.resetOverage(account));
    assertThat(await(admissions.admit(charge(clock, account, 10, 30))).allowed()).as("a new period").isTrue();
  }

  @Test
  @DisplayName("a reservation swept before its settle: the late settle still splits against what is left, once")
  void lateSettleAfterSweep() throws Exception {
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    // A shard of its own: a sweep takes at most 500 expired reservations, and another test's
    // hundreds of leftovers (AdmissionsTest's token-bucket run) in a shared shard came first 1 time in 16.
    RedisKeys keys = new RedisKeys(1 << 24);
    Admissions admissions = new Admissions(redis, keys, clock, Duration.ofSeconds(30));
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 25));
    Decision late = await(admissions.admit(charge(clock, account, 20, -1)));
    clock.advanceMillis(31_000);
    await(admissions.sweep(keys.shardOf(account)));
    assertThat(await(admissions.balance(account))).contains(25L);
    await(admissions.settle(late.reservation().orElseThrow(), used(late.reservation().get(), 40)));
    assertThat(OverageFields.last(redis, keys, account, 1)).containsExactly(15L);
    assertThat(await(admissions.balance(account))).contains(0L);
  }

  private static void settleOne(Admissions admissions, MutableClock clock, long account, long cost) throws Exception {
    Decision d = await(admissions.admit(charge(clock, account, cost, -1)));
    assertThat(d.allowed()).isTrue();
    await(admissions.settle(d.reservation().orElseThrow(), used(d.reservation().get(), cost)));
  }
}
