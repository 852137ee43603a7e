package io.tollgate.gateway;

import static io.tollgate.gateway.GatewayHarness.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Clients that hang up on a slow upstream (issue 20). The upstream here is a small Vert.x server
 * scripted step by step (head, first bytes, rest), so each abort happens exactly where the test
 * says. The upstream always reports 1,000 input + 1,000 output tokens, and the model is priced at
 * one credit per token: an exact charge is 2,000 credits.
 */
@DisplayName("Client aborts: recorded as client_abort/499, charged per metering.clientAbort, settled once")
class ClientAbortTest {

  private static final long INITIAL = 100_000;
  private static final long EXACT = 2_000;
  private static final String ROUTE = "/v1/";

  @RegisterExtension
  static final GatewayHarness harness = new GatewayHarness();
  static final Vertx vertx = harness.stubVertx;
  private static Vertx upstreamVertx;
  private static HttpServer upstream;
  private static Tollgate draining;
  private static Tollgate estimating;
  private static final Map<String, Script> SCRIPTS = new ConcurrentHashMap<>();
  private static final AtomicInteger IDS = new AtomicInteger();

  @BeforeAll
  static void start() {
    upstreamVertx = Vertx.vertx();
    upstream = await(upstreamVertx.createHttpServer().requestHandler(ClientAbortTest::answer).listen(0, "127.0.0.1"));
    String config = """
        routes:
          - prefix: /v1/
            upstream: http://127.0.0.1:%d/v1/
            usage: openai
        pricing:
          models:
            per-token: { input: 1000000, output: 1000000 }
        plans:
          free: { requestsPerMinute: 1000, tokensPerMinute: 100000000, includedCredits: 0 }
        metering: { %s }
        """;
    draining = GatewayHarness.start(config.formatted(upstream.actualPort(),
        "abortDrainTimeoutSeconds: 2, abortDrainMaxBytes: 65536"), Map.of());
    estimating = GatewayHarness.start(config.formatted(upstream.actualPort(), "clientAbort: estimate"), Map.of());
  }

  @AfterAll
  static void stop() {
    // Both gateways consume the same usage streams: leave nothing read but unacknowledged by a
    // closing one, which would sit in the stream (and in the next test class's backlog) until claimed.
    awaitCondition(() -> await(draining.services().jobs().flushUsage().compose(v -> estimating.services().jobs().flushUsage())
        .compose(v -> draining.services().jobs().measureBacklog())).backlog() == 0, "usage streams drained before closing");
    draining.close();
    estimating.close();
    await(upstreamVertx.close());
  }

  // ---- drain (the default): the rest of the answer is read and its usage charged

  @ParameterizedTest(name = "{0}, client gone {1}")
  @CsvSource({
      "json, before_head, before_response",
      "json, after_head,  before_response",
      "json, mid_body,    during_body",
      "sse,  before_head, before_response",
      "sse,  after_head,  before_response",
      "sse,  mid_body,    during_body"})
  @DisplayName("drain: a client that hangs up is charged exactly the usage the upstream reports after it, once, as client_abort/499")
  void drainChargesReportedUsage(String kind, String when, String phase) throws Exception {
    Account account = account(draining);
    Metrics before = Metrics.of(draining);
    Script script = script(kind.equals("sse"), 0);
    Abort abort = abortAt(draining, account, script, when);
    // The gateway has seen the client go before the upstream goes on: the abort cannot be mistaken for a finished exchange.
    awaitCondition(() -> Metrics.of(draining).aborts(phase) == before.aborts(phase) + 1, "abort counted as " + phase);
    script.releaseAll();
    assertThat(script.done.get(10, TimeUnit.SECONDS)).as("the upstream finished its answer (not cancelled)").isTrue();

    Row row = onlyUsageRow(draining, account);
    assertThat(row.getString("outcome")).isEqualTo("client_abort");
    assertThat(row.getInteger("status")).isEqualTo(499);
    assertThat(credits(row)).isEqualTo(EXACT);
    assertThat(row.getLong("input_tokens")).isEqualTo(1_000);
    assertThat(row.getLong("output_tokens")).isEqualTo(1_000);
    assertThat(row.getBoolean("estimated")).isFalse();
    assertBalanceIs(draining, account, INITIAL - EXACT);
    assertThat(abort.clientSawStatus()).isNotEqualTo(502);

    Metrics after = Metrics.of(draining);
    assertThat(after.serverErrors).as("5xx responses (what the upstream-error alert watches)").isEqualTo(before.serverErrors);
    assertThat(after.failures).as("upstream failures").isEqualTo(before.failures);
  }

  @Test
  @DisplayName("drain: an answer larger than abortDrainMaxBytes is cut, and the reservation (the worst case) is charged once")
  void drainByteBound() throws Exception {
    Account account = account(draining);
    Metrics before = Metrics.of(draining);
    Script script = script(false, 200_000);
    abortAt(draining, account, script, "before_head");
    long reserved = account.reservedWhileHeld();
    assertThat(reserved).isGreaterThan(EXACT);
    awaitCondition(() -> Metrics.of(draining).aborts("before_response") == before.aborts("before_response") + 1,
        "abort counted");
    // The upstream may well finish writing (socket buffers take 200 kB); the gateway stopped reading it at 64 kB.
    script.releaseAll();
    script.done.get(10, TimeUnit.SECONDS);

    Row row = onlyUsageRow(draining, account);
    assertThat(row.getString("outcome")).isEqualTo("client_abort");
    assertThat(row.getInteger("status")).isEqualTo(499);
    assertThat(credits(row)).isEqualTo(reserved);
    assertThat(row.getBoolean("estimated")).isTrue();
    assertBalanceIs(draining, account, INITIAL - reserved);
  }

  @Test
  @DisplayName("drain: an upstream that does not answer within abortDrainTimeoutSeconds is cancelled, and the reservation is charged once")
  void drainTimeBound() throws Exception {
    Account account = account(draining);
    Script script = script(false, 0);
    abortAt(draining, account, script, "before_head");
    long reserved = account.reservedWhileHeld();
    // Never released: the gateway gives up after the bound and cancels the upstream request.
    assertThat(script.done.get(20, TimeUnit.SECONDS)).as("the gateway cancelled the upstream request").isFalse();

    Row row = onlyUsageRow(draining, account);
    assertThat(row.getString("outcome")).isEqualTo("client_abort");
    assertThat(row.getInteger("status")).isEqualTo(499);
    assertThat(credits(row)).isEqualTo(reserved);
    assertBalanceIs(draining, account, INITIAL - reserved);
  }

  @Test
  @DisplayName("drain: a stream whose rest does not come within the bound pays for what it streamed, estimated, once")
  void drainTimeBoundMidStream() throws Exception {
    Account account = account(draining);
    Script script = script(true, 0);
    abortAt(draining, account, script, "mid_body");
    long reserved = account.reservedWhileHeld();
    assertThat(script.done.get(20, TimeUnit.SECONDS)).as("the gateway cancelled the upstream request").isFalse();

    Row row = onlyUsageRow(draining, account);
    assertThat(row.getString("outcome")).isEqualTo("client_abort");
    assertThat(row.getInteger("status")).isEqualTo(499);
    assertThat(row.getBoolean("estimated")).isTrue();
    assertThat(credits(row)).isPositive().isLessThan(reserved);
    assertBalanceIs(draining, account, INITIAL - credits(row));
  }

  // ---- estimate: the upstream request is cancelled at once

  @ParameterizedTest(name = "{0}")
  @CsvSource({"json", "sse"})
  @DisplayName("estimate: a client gone before the head is charged the reservation at once, and the upstream request is cancelled")
  void estimateChargesReservation(String kind) throws Exception {
    Account account = account(estimating);
    Metrics before = Metrics.of(estimating);
    Script script = script(kind.equals("sse"), 0);
    abortAt(estimating, account, script, "before_head");
    long reserved = account.reservedWhileHeld();
    assertThat(script.done.get(10, TimeUnit.SECONDS)).as("the gateway cancelled the upstream request").isFalse();

    Row row = onlyUsageRow(estimating, account);
    assertThat(row.getString("outcome")).isEqualTo("client_abort");
    assertThat(row.getInteger("status")).isEqualTo(499);
    assertThat(credits(row)).isEqualTo(reserved);
    assertThat(row.getBoolean("estimated")).isTrue();
    assertBalanceIs(estimating, account, INITIAL - reserved);
    Metrics after = Metrics.of(estimating);
    assertThat(after.aborts("before_response")).isEqualTo(before.aborts("before_response") + 1);
    assertThat(after.serverErrors).isEqualTo(before.serverErrors);
    assertThat(after.failures).isEqualTo(before.failures);
  }

  @Test
  @DisplayName("estimate: a client gone mid-stream pays for what was streamed, estimated, once")
  void estimateMidStream() throws Exception {
    Account account = account(estimating);
    Script script = script(true, 0);
    abortAt(estimating, account, script, "mid_body");
    long reserved = account.reservedWhileHeld();
    assertThat(script.done.get(10, TimeUnit.SECONDS)).as("the gateway cancelled the upstream request").isFalse();

    Row row = onlyUsageRow(estimating, account);
    assertThat(row.getString("outcome")).isEqualTo("client_abort");
    assertThat(row.getInteger("status")).isEqualTo(499);
    assertThat(row.getBoolean("estimated")).isTrue();
    assertThat(credits(row)).isPositive().isLessThan(reserved);
    assertBalanceIs(estimating, account, INITIAL - credits(row));
  }

  // ---- the client side

  private record Account(long id, String key, long[] reserved) {
    long reservedWhileHeld() {
      return reserved[0];
    }
  }

  private static Account account(Tollgate gateway) {
    long id = GatewayHarness.createAccount(gateway, vertx, new JsonObject().put("name", "aborts")
        .put("initialCredits", INITIAL).put("limits", new JsonObject()));
    return new Account(id, GatewayHarness.createKey(gateway, vertx, id, new JsonObject()).getString("key"), new long[1]);
  }

  /** What the client saw before it hung up. */
  private record Abort(CompletableFuture<Integer> status) {
    int clientSawStatus() {
      return status.getNow(-1);
    }
  }

  /**
   * Sends a chat completion and hangs up at {@code when}: {@code before_head} (the upstream has the
   * request and has not answered), {@code after_head} (the gateway has the upstream's response head,
   * the client nothing yet) or {@code mid_body} (the client has the head and the first bytes).
   * Records the credits reserved while the request is held at the upstream.
   */
  private static Abort abortAt(Tollgate gateway, Account account, Script script, String when) throws Exception {
    HttpClient client = HttpTestClient.keep(vertx.createHttpClient());
    CompletableFuture<HttpClientRequest> sent = new CompletableFuture<>();
    CompletableFuture<Integer> status = new CompletableFuture<>();
    CompletableFuture<Void> firstBytes = new CompletableFuture<>();
    JsonObject body = new JsonObject().put("model", "per-token").put("max_tokens", 5_000)
        .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content", "say hello")));
    if (script.sse) {
      body.put("stream", true).put("stream_options", new JsonObject().put("include_usage", true));
    }
    // On a context, so the response's handlers are set in the task that delivers it (see HttpTestClient).
    vertx.runOnContext(v -> client.request(new RequestOptions().setMethod(HttpMethod.POST).setHost("127.0.0.1")
            .setPort(gateway.proxyPort()).setURI("/v1/chat/completions")
            .putHeader("authorization", "Bearer " + account.key()).putHeader("content-type", "application/json")
            .putHeader("x-script", script.id))
        .onSuccess(sent::complete)
        .compose(req -> req.send(body.toBuffer()))
        .onSuccess(resp -> {
          status.complete(resp.statusCode());
          resp.handler(chunk -> firstBytes.complete(null));
          resp.exceptionHandler(ignored -> { });
        }));
    HttpClientRequest request = sent.get(10, TimeUnit.SECONDS);
    script.arrived.future().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    account.reserved()[0] = INITIAL - spendable(gateway, account);
    switch (when) {
      case "before_head" -> { }
      case "after_head" -> {
        long answered = upstreamAnswers(gateway);
        script.release(script.head);
        awaitCondition(() -> upstreamAnswers(gateway) > answered, "the gateway has the upstream's response head");
      }
      case "mid_body" -> {
        script.release(script.head);
        script.release(script.first);
        firstBytes.get(10, TimeUnit.SECONDS);
      }
      default -> throw new IllegalArgumentException(when);
    }
    vertx.runOnContext(v -> request.connection().close());
    return new Abort(status);
  }

  private static long upstreamAnswers(Tollgate gateway) {
    Timer timer = gateway.registry().find("tollgate_upstream_response_time").tag("route", ROUTE).timer();
    return timer == null ? 0 : timer.count();
  }

  /** The proxy's counters that an abort must or must not move, as they were when taken. */
  private record Metrics(double serverErrors, double failures, double beforeResponse, double duringBody) {
    static Metrics of(Tollgate gateway) {
      Counter errors = gateway.registry().find("tollgate_proxy_responses").tag("route", ROUTE).tag("status", "5xx").counter();
      double failures = gateway.registry().find("tollgate_proxy_failures").tag("route", ROUTE).counters().stream()
          .mapToDouble(Counter::count).sum();
      return new Metrics(errors == null ? 0 : errors.count(), failures, aborts(gateway, "before_response"),
          aborts(gateway, "during_body"));
    }

    private static double aborts(Tollgate gateway, String phase) {
      Counter c = gateway.registry().find("tollgate_proxy_client_aborts").tag("route", ROUTE).tag("phase", phase).counter();
      return c == null ? 0 : c.count();
    }

    double aborts(String phase) {
      return phase.equals("during_body") ? duringBody : beforeResponse;
    }
  }

  // ---- the ledger side

  /** After the usage stream is flushed: exactly one usage row for the account's one request. */
  private static Row onlyUsageRow(Tollgate gateway, Account account) {
    Pool pg = PgBuilder.pool().connectingTo(io.tollgate.metering.store.PostgresUrls.toConnectOptions(gateway.postgresUrl()))
        .using(vertx).build();
    try {
      RowSet<Row> rows = null;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (System.nanoTime() < deadline) {
        await(gateway.services().jobs().flushUsage());
        rows = await(pg.preparedQuery("SELECT outcome, status, credits, input_tokens, output_tokens, estimated "
            + "FROM usage_events WHERE account_id = $1").execute(Tuple.of(account.id())));
        if (rows.size() > 0) {
          break;
        }
        await(vertx.timer(50));
      }
      // Settled once: a second flush finds nothing more.
      await(gateway.services().jobs().flushUsage());
      rows = await(pg.preparedQuery("SELECT outcome, status, credits, input_tokens, output_tokens, estimated "
          + "FROM usage_events WHERE account_id = $1").execute(Tuple.of(account.id())));
      List<Row> list = new ArrayList<>();
      rows.forEach(list::add);
      assertThat(list).as("usage rows of the account").hasSize(1);
      return list.get(0);
    } finally {
      pg.close();
    }
  }

  /** The balance in Redis is what it should be, nothing is still reserved, and the ledger agrees. */
  /** A usage row's credits: the column holds units (1000 a credit); prices here are whole credits a token. */
  private static long credits(Row row) {
    return io.tollgate.config.Credits.toCredits(row.getLong("credits")).longValueExact();
  }

  private static void assertBalanceIs(Tollgate gateway, Account account, long expected) {
    HttpTestClient.Reply reply = await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.adminPort(),
        "/admin/v1/accounts/" + account.id() + "/credits", GatewayHarness.adminHeaders(), null));
    assertThat(reply.json().getLong("spendable")).as("spendable in Redis").isEqualTo(expected);
    assertThat(reply.json().getLong("ledgerSpendable")).as("spendable per the ledger").isEqualTo(expected);
  }

  private static long spendable(Tollgate gateway, Account account) {
    HttpTestClient.Reply reply = await(new HttpTestClient(vertx).send(HttpMethod.GET, gateway.adminPort(),
        "/admin/v1/accounts/" + account.id(), GatewayHarness.adminHeaders(), null));
    return reply.json().getJsonObject("credits").getLong("spendable");
  }

  private static void awaitCondition(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean() && System.nanoTime() < deadline) {
      await(vertx.timer(10));
    }
    assertThat(condition.getAsBoolean()).as(what).isTrue();
  }

  // ---- the scripted upstream

  /** One upstream answer, released step by step by the test. */
  private static final class Script {
    final String id = "s" + IDS.incrementAndGet();
    final boolean sse;
    final int filler;
    final Promise<Void> arrived = Promise.promise();
    final Promise<Void> head = Promise.promise();
    final Promise<Void> first = Promise.promise();
    final Promise<Void> rest = Promise.promise();
    /** True when the upstream ended its answer, false when the gateway cut the connection. */
    final CompletableFuture<Boolean> done = new CompletableFuture<>();
    volatile Context context;

    Script(boolean sse, int filler) {
      this.sse = sse;
      this.filler = filler;
    }

    void release(Promise<Void> step) {
      context.runOnContext(v -> step.tryComplete());
    }

    void releaseAll() {
      release(head);
      release(first);
      release(rest);
    }
  }

  private static Script script(boolean sse, int filler) {
    Script script = new Script(sse, filler);
    SCRIPTS.put(script.id, script);
    return script;
  }

  private static final String USAGE = "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":1000,\"total_tokens\":2000}";

  private static void answer(HttpServerRequest req) {
    Script script = SCRIPTS.get(req.getHeader("x-script"));
    HttpServerResponse resp = req.response();
    resp.closeHandler(v -> script.done.complete(false));
    req.body().onSuccess(b -> {
      script.context = Vertx.currentContext();
      script.arrived.complete();
    });
    script.head.future()
        .compose(v -> {
          resp.setChunked(true).putHeader("content-type", script.sse ? "text/event-stream" : "application/json");
          return resp.writeHead();
        })
        .compose(v -> script.first.future())
        .compose(v -> resp.write(script.sse
            ? "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n"
            : "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"per-token\","))
        .compose(v -> script.rest.future())
        .compose(v -> {
          Future<Void> chain = Future.succeededFuture();
          String chunk = "x".repeat(1_000);
          for (int sent = 0; sent < script.filler; sent += chunk.length()) {
            chain = chain.compose(x -> resp.write(script.sse
                ? "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + chunk + "\"}}]}\n\n"
                : "\"filler" + IDS.incrementAndGet() + "\":\"" + chunk + "\","));
          }
          return chain;
        })
        .compose(v -> resp.end(script.sse
            ? "data: {\"id\":\"c1\",\"choices\":[]," + USAGE + "}\n\ndata: [DONE]\n\n"
            : "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"finish_reason\":\"stop\"}],"
                + USAGE + "}"))
        .onComplete(ended -> script.done.complete(ended.succeeded() && !resp.closed()));
  }
}
