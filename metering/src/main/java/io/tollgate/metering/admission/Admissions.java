package io.tollgate.metering.admission;

import io.tollgate.metering.redis.BatchedScript;
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
 * sweeper that refunds reservations nobody settled. Admissions (and settlements) begun on one event
 * loop in the same turn share their round trip: one batched script call ({@link BatchedScript}). Time comes from the injected clock, so bucket
 * arithmetic is tested without sleeping.
 */
public final class Admissions {

  private static final LuaScript ADMIT = LuaScript.fromClasspath("lua/admit.lua");
  private static final LuaScript SETTLE = LuaScript.fromClasspath("lua/settle.lua");
  private static final LuaScript SWEEP = LuaScript.fromClasspath("lua/sweep.lua");
  private static final LuaScript GRANT = LuaScript.fromClasspath("lua/grant.lua");
  private static final LuaScript ALLOWANCES_RESET = LuaScript.fromClasspath("lua/allowances_reset.lua");
  private static final LuaScript ALLOWANCES_SEED = LuaScript.fromClasspath("lua/allowances_seed.lua");
  /** How long an ingested event's id is remembered after it settled: the same id within it is charged once. */
  public static final Duration EVENT_ID_RETENTION = Duration.ofDays(36);

  /** The most admissions (or settlements) one batched script call carries by default. */
  public static final int DEFAULT_BATCH = 64;

  private final Redis redis;
  private final RedisKeys keys;
  private final Clock clock;
  private final Duration reservationTtl;
  private final BatchedScript admit;
  private final BatchedScript settle;

  /** Batches of up to {@link #DEFAULT_BATCH}, grouped by slot (right for a standalone server and a cluster alike). */
  public Admissions(Redis redis, RedisKeys keys, Clock clock, Duration reservationTtl) {
    this(redis, keys, clock, reservationTtl, DEFAULT_BATCH, true);
  }

  /**
   * @param maxBatch the most admissions (or settlements) of one event-loop turn sent as one script
   *                 call ({@link BatchedScript}); 1 sends each alone
   * @param bySlot   group a turn's calls by hash tag: required on a Redis Cluster
   */
  public Admissions(Redis redis, RedisKeys keys, Clock clock, Duration reservationTtl, int maxBatch, boolean bySlot) {
    this(redis, keys, clock, reservationTtl, maxBatch, bySlot, BatchedScript.ReplicaWait.OFF);
  }

  /**
   * @param settleWait after each settle call, WAIT until this many replicas have its writes (the
   *                   charge and the usage event), or the timeout passes ({@code redis.settleWaitReplicas},
   *                   {@code redis.settleWaitMs}): with asynchronous replication a master that fails over
   *                   loses what its replica had not received yet (docs/redis-cluster.md)
   */
  public Admissions(Redis redis, RedisKeys keys, Clock clock, Duration reservationTtl, int maxBatch, boolean bySlot,
      BatchedScript.ReplicaWait settleWait) {
    this.redis = redis;
    this.keys = keys;
    this.clock = clock;
    this.reservationTtl = reservationTtl;
    this.admit = new BatchedScript(redis, ADMIT, maxBatch, bySlot);
    this.settle = new BatchedScript(redis, SETTLE, maxBatch, bySlot, settleWait);
  }

  /** Settle calls followed by a WAIT so far (one per batch). */
  public long settleWaits() {
    return settle.waits();
  }

  /** Of {@link #settleWaits}, those that timed out with fewer replicas than asked. */
  public long settleWaitShortfalls() {
    return settle.shortfalls();
  }

  /** Loads the scripts so the first request does not pay for it. */
  public Future<Void> load() {
    return admit.load().compose(v -> settle.load()).compose(v -> SWEEP.load(redis)).compose(v -> GRANT.load(redis))
        .compose(v -> ALLOWANCES_RESET.load(redis)).compose(v -> ALLOWANCES_SEED.load(redis));
  }

  /** How long a reservation is held before the sweeper refunds it. */
  public Duration reservationTtl() {
    return reservationTtl;
  }

  public RedisKeys keys() {
    return keys;
  }

  /**
   * Admits or denies one request. Fails (IllegalArgumentException) without calling Redis when a
   * count is beyond what a script holds exactly ({@link LuaNumbers}).
   */
  public Future<Decision> admit(AdmissionRequest r) {
    ActionAdmission action = r.action();
    try {
      LuaNumbers.exact("estimatedTokens", r.estimatedTokens());
      LuaNumbers.exact("reserveCredits", r.reserveCredits());
      LuaNumbers.exact("key requestsPerMinute", r.keyLimits().requestsPerMinute());
      LuaNumbers.exact("key tokensPerMinute", r.keyLimits().tokensPerMinute());
      LuaNumbers.exact("account requestsPerMinute", r.accountLimits().requestsPerMinute());
      LuaNumbers.exact("account tokensPerMinute", r.accountLimits().tokensPerMinute());
      if (action != null) {
        LuaNumbers.exact("quantity × unit credits", Math.multiplyExact(action.quantity(), action.unitCredits()));
      }
      if (r.keySpend() != null) {
        LuaNumbers.exact("key budget", r.keySpend().budget());
      }
    } catch (IllegalArgumentException | ArithmeticException e) {
      return Future.failedFuture(e instanceof IllegalArgumentException ? e : new IllegalArgumentException(e.getMessage()));
    }
    long now = clock.millis();
    List<String> k = new ArrayList<>(List.of(
        keys.keyRequests(r.accountId(), r.keyId()), keys.keyTokens(r.accountId(), r.keyId()),
        keys.accountRequests(r.accountId()), keys.accountTokens(r.accountId()),
        keys.credits(r.accountId()), keys.reservations(r.accountId()), keys.reservedCredits(r.accountId()),
        keys.overage(r.accountId()), keys.allowances(r.accountId()),
        keys.ingestEvent(r.accountId(), action == null || action.eventKey() == null ? "" : action.eventKey())));
    // A proxied request's member is complete here; an action's is completed by the script, which
    // alone knows how much of it the allowance covers (see Reservation#member).
    Reservation proxied = action == null
        ? new Reservation(r.eventId(), r.accountId(), r.keyId(), r.reserveCredits(), r.estimatedTokens(), r.credits(),
            r.keyLimits(), r.accountLimits(), r.keySpend())
        : null;
    String member = proxied != null ? proxied.member() : r.eventId() + ":" + r.accountId();
    List<String> a = new ArrayList<>(List.of(Long.toString(now),
        Long.toString(r.keyLimits().requestsPerMinute()), Long.toString(r.keyLimits().tokensPerMinute()),
        Long.toString(r.accountLimits().requestsPerMinute()), Long.toString(r.accountLimits().tokensPerMinute()),
        Long.toString(r.estimatedTokens()), Long.toString(r.reserveCredits()), r.credits().code(),
        member, Long.toString(now + reservationTtl.toMillis()), Long.toString(r.overageCap()),
        // Billable actions (ARGV 12-18 of admit.lua); an action's member tail carries the key budget's counter too.
        action == null || action.tier() == null ? "" : action.tier(),
        Long.toString(action == null ? 0 : action.quantity()), Long.toString(action == null ? 0 : action.allowance()),
        Long.toString(action == null ? 0 : action.unitCredits()), action != null && action.eventKey() != null ? "1" : "",
        Long.toString(reservationTtl.toMillis()),
        action == null ? "" : r.keyId() + ":" + action.quantity() + ":" + action.action()
            + (r.keySpend() == null ? "" : Reservation.budgetSuffix(r.keySpend()))));
    if (r.keySpend() != null) {
      // Only a key with a budget passes its counter (KEYS[11]) and budget (ARGV[19]).
      k.add(keys.keySpend(r.accountId(), r.keySpend().spendKeyId(), r.keySpend().window()));
      a.add(Long.toString(r.keySpend().budget()));
    }
    return admit.run(k, a).map(res -> {
      Denial denial = Denial.of(res.get(1).toInteger());
      Optional<Reservation> reservation = Optional.empty();
      if (denial == Denial.NONE) {
        reservation = Optional.of(proxied != null
            ? proxied
            : new Reservation(r.eventId(), r.accountId(), r.keyId(), res.get(10).toLong(), r.estimatedTokens(), r.credits(),
                r.keyLimits(), r.accountLimits(), new ActionHold(action.action(), action.tier(), action.quantity(),
                    res.get(11).toLong(), res.get(12).toLong()), r.keySpend()));
      }
      String duplicateOf = denial == Denial.DUPLICATE ? res.get(13).toString() : null;
      return new Decision(denial, res.get(2).toLong(), res.get(3).toLong(), res.get(4).toLong(), res.get(5).toLong(),
          res.get(6).toLong(), res.get(7).toLong(), res.get(8).toLong(), res.get(9).toLong(), reservation, duplicateOf);
    });
  }

  /**
   * Charges {@code event.credits()}, releases the rest of the reservation and appends the event to
   * the usage stream, in one script. Returns the balance after (−1 when the policy is {@link CreditPolicy#NONE}).
   * Under {@link CreditPolicy#CHARGE} the balance pays what it can and the rest is the event's
   * overage (recorded in the stream entry), which the balance never goes below zero for.
   */
  public Future<Long> settle(Reservation r, UsageEvent event) {
    return settleDetailed(r, event).map(Settled::balance);
  }

  /** What one settle did: whether the reservation was still held, and the balance after (−1 when not involved). */
  public record Settled(boolean held, long balance) {
  }

  /**
   * {@link #settle}, answering whether the reservation was still held. A billable action's
   * reservation ({@link Reservation#action()} set) is settled only while held: one that was
   * cancelled, committed or swept is neither charged nor recorded. The event's
   * {@link UsageEvent#action()} says how many allowance units it used; the rest of those held are
   * given back.
   */
  public Future<Settled> settleDetailed(Reservation r, UsageEvent event) {
    // Tokens an upstream reports are not bounded by the gateway: saturate rather than overflow.
    long tokensUsed = LuaNumbers.saturatingSum(Math.max(0, event.inputTokens()), Math.max(0, event.outputTokens()));
    try {
      LuaNumbers.exact("credits", event.credits());
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    ActionHold hold = r.action();
    UsageEvent.ActionUsage used = event.action();
    String ingestId = used == null ? null : used.ingestId();
    List<String> k = new ArrayList<>(List.of(keys.credits(r.accountId()), keys.reservations(r.accountId()),
        keys.usageStream(r.accountId()), keys.keyTokens(r.accountId(), r.keyId()), keys.accountTokens(r.accountId()),
        keys.reservedCredits(r.accountId()), keys.overage(r.accountId()), keys.allowances(r.accountId()),
        keys.ingestEvent(r.accountId(), ingestId == null ? "" : ingestId)));
    if (r.keySpend() != null) {
      // KEYS[10] of settle.lua, only for a key with a budget.
      k.add(keys.keySpend(r.accountId(), r.keySpend().spendKeyId(), r.keySpend().window()));
    }
    List<String> a = new ArrayList<>(List.of(r.member(), Long.toString(r.credits()), Long.toString(event.credits()),
        Long.toString(r.estimatedTokens()), Long.toString(tokensUsed),
        Long.toString(r.keyLimits().tokensPerMinute()), Long.toString(r.accountLimits().tokensPerMinute()),
        r.creditPolicy().code(),
        // Billable actions (ARGV 9-12 of settle.lua).
        hold == null || hold.tier() == null ? "" : hold.tier(),
        Long.toString(hold == null ? 0 : Math.max(0, hold.fromAllowance() - (used == null ? 0 : used.allowanceUnits()))),
        Long.toString(hold == null ? 0 : hold.generation()),
        hold == null ? "" : ingestId == null ? "0" : Long.toString(EVENT_ID_RETENTION.toMillis())));
    a.addAll(event.toStreamFields());
    return settle.run(k, a).map(res -> new Settled(res.get(0).toInteger() == 1, res.get(1).toLong()));
  }

  /**
   * Cancels a billable action's reservation: its credits and allowance units go back, exactly as
   * the sweeper would give them. False when it was no longer held (committed, cancelled, swept).
   */
  public Future<Boolean> cancel(Reservation r) {
    return refund(r.member()).map(n -> n == 1);
  }

  private Future<Integer> refund(String member) {
    Reservation.Parsed p = Reservation.parse(member);
    List<String> k = new ArrayList<>(List.of(keys.reservations(p.accountId()), keys.credits(p.accountId()),
        keys.reservedCredits(p.accountId()), keys.allowances(p.accountId())));
    if (p.spendKeyId() != null) {
      // KEYS[5] of sweep.lua: the hold goes back to the key's budget.
      k.add(keys.keySpend(p.accountId(), p.spendKeyId(), p.window()));
    }
    return SWEEP.run(redis, k,
        List.of(member, Long.toString(p.credits()), p.creditPolicy().code(), p.tier(), Long.toString(p.fromAllowance()),
            Long.toString(p.generation())))
        .map(Response::toInteger);
  }

  /**
   * Loads an account's allowance counters of the current period (tier → units used), unless they
   * are loaded already.
   */
  public Future<Void> seedAllowances(long accountId, java.util.Map<String, Long> used) {
    List<String> a = new ArrayList<>();
    used.forEach((tier, n) -> {
      a.add(tier);
      a.add(Long.toString(n));
    });
    return ALLOWANCES_SEED.run(redis, List.of(keys.allowances(accountId)), a).mapEmpty();
  }

  /** A new billing period: the allowance counters start again at zero (if loaded). */
  public Future<Void> resetAllowances(long accountId) {
    return ALLOWANCES_RESET.run(redis, List.of(keys.allowances(accountId)), List.of()).mapEmpty();
  }

  /**
   * Allowance units used (or held by open reservations) this period for each of {@code tiers}, or
   * empty when the counters are not loaded.
   */
  public Future<Optional<java.util.Map<String, Long>>> allowancesUsed(long accountId, java.util.Collection<String> tiers) {
    List<String> fields = new ArrayList<>(tiers);
    Request hmget = Request.cmd(Command.HMGET).arg(keys.allowances(accountId)).arg("@gen");
    fields.forEach(hmget::arg);
    return redis.send(hmget).map(res -> {
      if (res.get(0) == null) {
        return Optional.empty();
      }
      java.util.Map<String, Long> used = new java.util.TreeMap<>();
      for (int i = 0; i < fields.size(); i++) {
        Response v = res.get(i + 1);
        used.put(fields.get(i), v == null ? 0L : v.toLong());
      }
      return Optional.of(used);
    });
  }

  /** Refunds every reservation of {@code shard} whose TTL has passed; returns how many. */
  public Future<Integer> sweep(int shard) {
    String set = keys.reservationsOfShard(shard);
    return redis.send(Request.cmd(Command.ZRANGEBYSCORE).arg(set).arg("-inf").arg(clock.millis()).arg("LIMIT").arg(0).arg(500))
        .compose(expired -> {
          Future<Integer> done = Future.succeededFuture(0);
          for (Response member : expired) {
            String m = member.toString();
            done = done.compose(n -> refund(m).map(removed -> n + removed));
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
