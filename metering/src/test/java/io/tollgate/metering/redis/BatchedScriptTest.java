package io.tollgate.metering.redis;

import static io.tollgate.metering.testing.TestRedis.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.metering.admission.AdmissionRequest;
import io.tollgate.metering.admission.Admissions;
import io.tollgate.metering.admission.CreditPolicy;
import io.tollgate.metering.admission.Decision;
import io.tollgate.metering.admission.Denial;
import io.tollgate.metering.admission.Limits;
import io.tollgate.metering.testing.EventLoopTurn;
import io.tollgate.metering.testing.TestRedis;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UuidV7;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Script calls begun in one event-loop turn go to Redis as one batched call (issue 18), each with
 * the answer, the error and the atomicity it had alone. Real Redis; the calls are started on a real
 * Vert.x event loop, where batching applies.
 */
@DisplayName("Batched script calls")
class BatchedScriptTest {

  private static final AtomicLong ACCOUNTS = new AtomicLong(ThreadLocalRandom.current().nextLong(7_000_000, 8_000_000));
  /** Increments KEYS[1], then fails on request; answers {the value, ARGV[2]}. */
  private static final LuaScript COUNTER = LuaScript.of("counter.lua", """
      local v = redis.call('INCR', KEYS[1])
      if ARGV[1] == 'boom' then error('boom requested') end
      if ARGV[1] == 'not-a-number' then return redis.call('INCR', KEYS[2]) end
      return {v, ARGV[2]}
      """);
  @RegisterExtension
  static final TestRedis REDIS = new TestRedis(4, 10_000);
  private static final Vertx vertx = REDIS.vertx();
  private static final Redis redis = REDIS.client();

  private static <T> List<Future<T>> inOneTurn(Supplier<List<Future<T>>> start) throws Exception {
    return EventLoopTurn.inOneTurn(vertx, start);
  }

  private static long evalshaCalls() throws Exception {
    String stats = await(redis.send(Request.cmd(Command.INFO).arg("commandstats"))).toString();
    for (String line : stats.split("\r?\n")) {
      if (line.startsWith("cmdstat_evalsha:calls=")) {
        return Long.parseLong(line.substring("cmdstat_evalsha:calls=".length(), line.indexOf(',')));
      }
    }
    return 0;
  }

  @Test
  @DisplayName("1,000 admissions begun in one turn against a balance for 137 admit exactly 137, in at most 16 script calls of 64")
  void admissionsOfOneTurnAreBatched() throws Exception {
    Admissions admissions = new Admissions(redis, new RedisKeys(16), Clock.systemUTC(), Duration.ofMinutes(5), 64, false);
    await(admissions.load());
    long account = ACCOUNTS.incrementAndGet();
    long cost = 7;
    await(admissions.seedBalance(account, 137 * cost));
    long callsBefore = evalshaCalls();
    List<Future<Decision>> all = inOneTurn(() -> {
      List<Future<Decision>> started = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        started.add(admissions.admit(new AdmissionRequest(UuidV7.at(System.currentTimeMillis()), account, account * 10,
            Limits.UNLIMITED, Limits.UNLIMITED, 15, cost, CreditPolicy.ENFORCE)));
      }
      return started;
    });
    await(Future.join(new ArrayList<>(all)));
    long scriptCalls = evalshaCalls() - callsBefore;

    List<Decision> decisions = all.stream().map(Future::result).toList();
    assertThat(decisions).filteredOn(Decision::allowed).hasSize(137);
    assertThat(decisions).filteredOn(d -> !d.allowed()).hasSize(863).allMatch(d -> d.denial() == Denial.CREDITS);
    assertThat(await(admissions.balance(account))).contains(0L);
    // Alone, they were 1,000 EVALSHA. Other work on the shared test Redis may add a few.
    assertThat(scriptCalls).as("EVALSHA calls for 1,000 admissions").isBetween(16L, 60L);

    // Settled in one turn too: every admitted request's event reaches the stream once, and the balance stays 0.
    String stream = admissions.keys().usageStream(account);
    long before = await(redis.send(Request.cmd(Command.XLEN).arg(stream))).toLong();
    List<Future<Long>> settles = inOneTurn(() -> decisions.stream().filter(Decision::allowed).map(d -> {
      var r = d.reservation().orElseThrow();
      return admissions.settle(r, new UsageEvent(r.eventId(), account, r.keyId(), "/v1/", "m", 10, 5, cost, 200, 3, false, "ok",
          System.currentTimeMillis()));
    }).toList());
    await(Future.join(new ArrayList<>(settles)));
    assertThat(await(redis.send(Request.cmd(Command.XLEN).arg(stream))).toLong() - before).isEqualTo(137);
    assertThat(await(admissions.balance(account))).contains(0L);
  }

  @Test
  @DisplayName("with a settle WAIT for a replica the embedded Redis does not have, every settle still succeeds and each WAIT is counted short")
  void settleWaitShortfall() throws Exception {
    Admissions admissions = new Admissions(redis, new RedisKeys(16), Clock.systemUTC(), Duration.ofMinutes(5), 64, false,
        new BatchedScript.ReplicaWait(1, 20));
    await(admissions.load());
    long account = ACCOUNTS.incrementAndGet();
    await(admissions.seedBalance(account, 1_000));
    List<Future<Decision>> admitted = inOneTurn(() -> {
      List<Future<Decision>> started = new ArrayList<>();
      for (int i = 0; i < 20; i++) {
        started.add(admissions.admit(new AdmissionRequest(UuidV7.at(System.currentTimeMillis()), account, account * 10,
            Limits.UNLIMITED, Limits.UNLIMITED, 15, 7, CreditPolicy.ENFORCE)));
      }
      return started;
    });
    await(Future.join(new ArrayList<>(admitted)));
    String stream = admissions.keys().usageStream(account);
    long before = await(redis.send(Request.cmd(Command.XLEN).arg(stream))).toLong();
    List<Future<Long>> settles = inOneTurn(() -> admitted.stream().map(Future::result).map(d -> {
      var r = d.reservation().orElseThrow();
      return admissions.settle(r, new UsageEvent(r.eventId(), account, r.keyId(), "/v1/", "m", 10, 5, 7, 200, 3, false, "ok",
          System.currentTimeMillis()));
    }).toList());
    await(Future.join(new ArrayList<>(settles)));
    // Off the event loop: a settle alone, also followed by its WAIT.
    Decision one = await(admissions.admit(new AdmissionRequest(UuidV7.at(System.currentTimeMillis()), account, account * 10,
        Limits.UNLIMITED, Limits.UNLIMITED, 15, 7, CreditPolicy.ENFORCE)));
    var r = one.reservation().orElseThrow();
    await(admissions.settle(r, new UsageEvent(r.eventId(), account, r.keyId(), "/v1/", "m", 10, 5, 7, 200, 3, false, "ok",
        System.currentTimeMillis())));

    assertThat(await(redis.send(Request.cmd(Command.XLEN).arg(stream))).toLong() - before).isEqualTo(21);
    assertThat(await(admissions.balance(account))).contains(1_000L - 21 * 7);
    assertThat(admissions.settleWaits()).as("WAITs sent: the batch's and the lone settle's").isBetween(2L, 21L);
    assertThat(admissions.settleWaitShortfalls()).as("no replica ever acknowledges").isEqualTo(admissions.settleWaits());
  }

  @Test
  @DisplayName("in one batch each call sees what the calls before it left, and a call that fails fails alone, with its own error")
  void callsRunInOrderAndFailAlone() throws Exception {
    BatchedScript script = new BatchedScript(redis, COUNTER, 64, false);
    await(script.load());
    String counter = "test:{b}:counter:" + UUID.randomUUID();
    String text = "test:{b}:text:" + UUID.randomUUID();
    await(redis.send(Request.cmd(Command.SET).arg(text).arg("abc")));
    String[] modes = {"ok", "ok", "boom", "ok", "not-a-number", "ok"};
    List<Future<Response>> calls = inOneTurn(() -> {
      List<Future<Response>> started = new ArrayList<>();
      for (int i = 0; i < modes.length; i++) {
        started.add(script.run(List.of(counter, text), List.of(modes[i], "call-" + i)));
      }
      return started;
    });
    // join fails as soon as one fails: wait for all, whatever they end with.
    await(Future.join(new ArrayList<>(calls)).otherwiseEmpty());

    assertThat(calls.get(0).result().get(0).toLong()).isEqualTo(1);
    assertThat(calls.get(0).result().get(1).toString()).isEqualTo("call-0");
    assertThat(calls.get(1).result().get(0).toLong()).isEqualTo(2);
    assertThat(calls.get(2).failed()).isTrue();
    assertThat(calls.get(2).cause()).isInstanceOf(BatchedScript.ScriptError.class).hasMessageContaining("boom requested");
    // The failed call's INCR before its error stays, as it would have alone (a script is not rolled back).
    assertThat(calls.get(3).result().get(0).toLong()).isEqualTo(4);
    assertThat(calls.get(4).failed()).isTrue();
    assertThat(calls.get(4).cause()).hasMessageContaining("not an integer");
    assertThat(calls.get(5).result().get(0).toLong()).isEqualTo(6);
    assertThat(calls.get(5).result().get(1).toString()).isEqualTo("call-5");
  }

  @Test
  @DisplayName("after SCRIPT FLUSH a batch is run by EVAL, once, and every call still gets its answer")
  void batchReloadsOnNoScript() throws Exception {
    BatchedScript script = new BatchedScript(redis, COUNTER, 64, false);
    await(script.load());
    await(redis.send(Request.cmd(Command.SCRIPT).arg("FLUSH")));
    String counter = "test:{b}:counter:" + UUID.randomUUID();
    List<Future<Response>> calls = inOneTurn(() -> {
      List<Future<Response>> started = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        started.add(script.run(List.of(counter, counter), List.of("ok", "call-" + i)));
      }
      return started;
    });
    await(Future.join(new ArrayList<>(calls)));
    assertThat(calls).allMatch(Future::succeeded);
    assertThat(calls.stream().map(f -> f.result().get(0).toLong())).containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L);
    assertThat(await(redis.send(Request.cmd(Command.GET).arg(counter))).toLong()).as("each call ran once").isEqualTo(10);
  }

  @Test
  @DisplayName("calls made off an event loop, or with a batch size of 1, are sent alone and still answered")
  void offTheEventLoopAlone() throws Exception {
    BatchedScript script = new BatchedScript(redis, COUNTER, 1, false);
    await(script.load());
    String counter = "test:{b}:counter:" + UUID.randomUUID();
    long before = evalshaCalls();
    List<Future<Response>> calls = inOneTurn(() -> List.of(script.run(List.of(counter, counter), List.of("ok", "a")),
        script.run(List.of(counter, counter), List.of("ok", "b")), script.run(List.of(counter, counter), List.of("ok", "c"))));
    await(Future.join(new ArrayList<>(calls)));
    assertThat(evalshaCalls() - before).as("one EVALSHA per call").isGreaterThanOrEqualTo(3);
    BatchedScript batching = new BatchedScript(redis, COUNTER, 64, false);
    assertThat(await(batching.run(List.of(counter, counter), List.of("ok", "d"))).get(0).toLong()).isEqualTo(4);
  }

  @Test
  @DisplayName("the hash tag grouping a cluster's batches is the part of the key Redis Cluster hashes")
  void hashTags() {
    assertThat(BatchedScript.hashTag("tg:{s3}:acct:19:credits:mc")).isEqualTo("s3");
    assertThat(BatchedScript.hashTag("tg:{s3}:x:{s4}")).isEqualTo("s3");
    assertThat(BatchedScript.hashTag("tg:{}:x")).isEqualTo("tg:{}:x");
    assertThat(BatchedScript.hashTag("plain")).isEqualTo("plain");
  }
}
