package io.tollgate.metering.admission;

import io.tollgate.metering.redis.LuaScript;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.usage.UsageEvent;
import io.vertx.core.Future;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The two Redis round trips of the hot path — {@link #admit} and {@link #settle} — plus the
 * sweeper that refunds reservations nobody settled. Time comes from the injected clock, so bucket
 * arithmetic is tested without sleeping.
 */
public final class Admissions {

  private static final LuaScript ADMIT = LuaScript.fromClasspath("lua/admit.lua");
  private static final LuaScript SETTLE = LuaScript.fromClasspath("lua/settle.lua");
  private static final LuaScript SWEEP = LuaScript.fromClasspath("lua/sweep.lua");
  private static final LuaScript GRANT = LuaScript.fromClasspath("lua/grant.lua");

  private final Redis redis;
  private final RedisKeys keys;
  private final Clock clock;
  private final Duration reservationTtl;

  public Admissions(Redis redis, RedisKeys keys, Clock clock, Duration reservationTtl) {
    this.redis = redis;
    this.keys = keys;
    this.clock = clock;
    this.reservationTtl = reservationTtl;
  }

  /** Loads the scripts so the first request does not pay for it. */
  public Future<Void> load() {
    return ADMIT.load(redis).compose(v -> SETTLE.load(redis)).compose(v -> SWEEP.load(redis)).compose(v -> GRANT.load(redis));
  }

  public RedisKeys keys() {
    return keys;
  }

  /**
   * Admits or denies one request. Fails (IllegalArgumentException) without calling Redis when a
   * count is beyond what a script holds exactly ({@link LuaNumbers}).
   */
  public Future<Decision> admit(AdmissionRequest r) {
    try {
      LuaNumbers.exact("estimatedTokens", r.estimatedTokens());
      LuaNumbers.exact("reserveCredits", r.reserveCredits());
      LuaNumbers.exact("key requestsPerMinute", r.keyLimits().requestsPerMinute());
      LuaNumbers.exact("key tokensPerMinute", r.keyLimits().tokensPerMinute());
      LuaNumbers.exact("account requestsPerMinute", r.accountLimits().requestsPerMinute());
      LuaNumbers.exact("account tokensPerMinute", r.accountLimits().tokensPerMinute());
      if (r.keySpend() != null) {
        LuaNumbers.exact("key budget", r.keySpend().budget());
      }
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    long now = clock.millis();
    Reservation reservation = new Reservation(r.eventId(), r.accountId(), r.keyId(), r.reserveCredits(),
        r.estimatedTokens(), r.credits(), r.keyLimits(), r.accountLimits(), r.keySpend());
    List<String> k = new ArrayList<>(List.of(
        keys.keyRequests(r.accountId(), r.keyId()), keys.keyTokens(r.accountId(), r.keyId()),
        keys.accountRequests(r.accountId()), keys.accountTokens(r.accountId()),
        keys.credits(r.accountId()), keys.reservations(r.accountId()), keys.reservedCredits(r.accountId()),
        keys.overage(r.accountId())));
    List<String> a = new ArrayList<>(List.of(Long.toString(now),
        Long.toString(r.keyLimits().requestsPerMinute()), Long.toString(r.keyLimits().tokensPerMinute()),
        Long.toString(r.accountLimits().requestsPerMinute()), Long.toString(r.accountLimits().tokensPerMinute()),
        Long.toString(r.estimatedTokens()), Long.toString(r.reserveCredits()), r.credits().code(),
        reservation.member(), Long.toString(now + reservationTtl.toMillis()), Long.toString(r.overageCap())));
    if (r.keySpend() != null) {
      // Only a key with a budget passes its counter (KEYS[9]) and budget (ARGV[12]).
      k.add(keys.keySpend(r.accountId(), r.keySpend().spendKeyId(), r.keySpend().window()));
      a.add(Long.toString(r.keySpend().budget()));
    }
    return ADMIT.run(redis, k, a).map(res -> {
      Denial denial = Denial.of(res.get(1).toInteger());
      return new Decision(denial, res.get(2).toLong(), res.get(3).toLong(), res.get(4).toLong(), res.get(5).toLong(),
          res.get(6).toLong(), res.get(7).toLong(), res.get(8).toLong(), res.get(9).toLong(),
          denial == Denial.NONE ? Optional.of(reservation) : Optional.empty());
    });
  }

  /**
   * Charges {@code event.credits()}, releases the rest of the reservation and appends the event to
   * the usage stream, in one script. Returns the balance after (−1 when the policy is {@link CreditPolicy#NONE}).
   * Under {@link CreditPolicy#CHARGE} the balance pays what it can and the rest is the event's
   * overage (recorded in the stream entry), which the balance never goes below zero for.
   */
  public Future<Long> settle(Reservation r, UsageEvent event) {
    // Tokens an upstream reports are not bounded by the gateway: saturate rather than overflow.
    long tokensUsed = LuaNumbers.saturatingSum(Math.max(0, event.inputTokens()), Math.max(0, event.outputTokens()));
    try {
      LuaNumbers.exact("credits", event.credits());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    List<String> k = new ArrayList<>(List.of(keys.credits(r.accountId()), keys.reservations(r.accountId()),
        keys.usageStream(r.accountId()), keys.keyTokens(r.accountId(), r.keyId()), keys.accountTokens(r.accountId()),
        keys.reservedCredits(r.accountId()), keys.overage(r.accountId())));
    if (r.keySpend() != null) {
      k.add(keys.keySpend(r.accountId(), r.keySpend().spendKeyId(), r.keySpend().window()));
    }
    List<String> a = new ArrayList<>(List.of(r.member(), Long.toString(r.credits()), Long.toString(event.credits()),
        Long.toString(r.estimatedTokens()), Long.toString(tokensUsed),
        Long.toString(r.keyLimits().tokensPerMinute()), Long.toString(r.accountLimits().tokensPerMinute()),
        r.creditPolicy().code()));
    a.addAll(event.toStreamFields());
    return SETTLE.run(redis, k, a).map(res -> res.get(1).toLong());
  }

  /** Refunds every reservation of {@code shard} whose TTL has passed; returns how many. */
  public Future<Integer> sweep(int shard) {
    String set = keys.reservationsOfShard(shard);
    return redis.send(Request.cmd(Command.ZRANGEBYSCORE).arg(set).arg("-inf").arg(clock.millis()).arg("LIMIT").arg(0).arg(500))
        .compose(expired -> {
          Future<Integer> done = Future.succeededFuture(0);
          for (Response member : expired) {
            String m = member.toString();
            Reservation.Parsed p = Reservation.parse(m);
            List<String> sweepKeys = new ArrayList<>(List.of(set, keys.credits(p.accountId()), keys.reservedCredits(p.accountId())));
            if (p.spendKeyId() != null) {
              sweepKeys.add(keys.keySpend(p.accountId(), p.spendKeyId(), p.window()));
            }
            done = done.compose(n -> SWEEP.run(redis, sweepKeys, List.of(m, Long.toString(p.credits()), p.creditPolicy().code()))
                .map(removed -> n + removed.toInteger()));
          }
          return done;
        });
  }

  /** Sets a key's spend in a budget window if Redis has none (first use, or after Redis lost its data). */
  public Future<Boolean> seedKeySpend(long accountId, KeySpend spend, long spent) {
    return redis.send(Request.cmd(Command.SET).arg(keys.keySpend(accountId, spend.spendKeyId(), spend.window())).arg(spent).arg("NX"))
        .map(r -> r != null);
  }

  /** A key's spend in a budget window as Redis holds it (settled plus held), or empty when not loaded. */
  public Future<Optional<Long>> keySpend(long accountId, long spendKeyId, String window) {
    return redis.send(Request.cmd(Command.GET).arg(keys.keySpend(accountId, spendKeyId, window)))
        .map(r -> r == null ? Optional.empty() : Optional.of(r.toLong()));
  }

  /** Sets an account's Redis balance if it has none (first use, or after Redis lost its data). */
  public Future<Boolean> seedBalance(long accountId, long balance) {
    return redis.send(Request.cmd(Command.SET).arg(keys.credits(accountId)).arg(balance).arg("NX"))
        .map(r -> r != null);
  }

  /** Sets an account's overage of the current period if Redis has none (alongside {@link #seedBalance}). */
  public Future<Boolean> seedOverage(long accountId, long overage) {
    return redis.send(Request.cmd(Command.SET).arg(keys.overage(accountId)).arg(overage).arg("NX"))
        .map(r -> r != null);
  }

  /** A new billing period starts with no overage. */
  public Future<Void> resetOverage(long accountId) {
    return redis.send(Request.cmd(Command.DEL).arg(keys.overage(accountId))).mapEmpty();
  }

  /** The account's overage in Redis for the current period (0 when none recorded). */
  public Future<Long> overage(long accountId) {
    return redis.send(Request.cmd(Command.GET).arg(keys.overage(accountId))).map(r -> r == null ? 0L : r.toLong());
  }

  /** Overwrites an account's Redis balance: the rebuild from the Postgres ledger. */
  public Future<Void> setBalance(long accountId, long balance) {
    return redis.send(Request.cmd(Command.SET).arg(keys.credits(accountId)).arg(balance)).mapEmpty();
  }

  /**
   * Applies a committed ledger change (the Postgres row is written first by the caller) to the hot
   * copy if Redis holds the balance, in one script: returns the new balance. If it is not loaded,
   * nothing is done and the result is empty: the first request seeds the balance from the ledger,
   * which has the change.
   */
  public Future<Optional<Long>> addCreditsIfLoaded(long accountId, long amount) {
    return GRANT.run(redis, List.of(keys.credits(accountId)), List.of(Long.toString(amount)))
        .map(r -> r == null ? Optional.<Long>empty() : Optional.of(r.toLong()));
  }

  /** The spendable balance in Redis, or empty when not loaded. */
  public Future<Optional<Long>> balance(long accountId) {
    return redis.send(Request.cmd(Command.GET).arg(keys.credits(accountId)))
        .map(r -> r == null ? Optional.empty() : Optional.of(r.toLong()));
  }
}
