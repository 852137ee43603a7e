package io.tollgate.stripesync.fake;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A local HTTP server speaking the Stripe endpoints Tollgate's meter sync uses, for the real
 * stripe-java client pointed at it ({@code setApiBase}/{@code setMeterEventsBase}):
 * {@code POST /v1/billing/meter_events}, {@code POST /v2/billing/meter_event_session},
 * {@code POST /v2/billing/meter_event_stream} and
 * {@code GET /v1/billing/meters/{id}/event_summaries}.
 *
 * <p>It keeps what it accepted, deduplicates identifiers as Stripe does (v1 answers a duplicate
 * with {@code resource_already_exists}; the v2 stream drops it silently), checks the API key and
 * session tokens, and injects faults on demand — queued one-shot faults or a random mix:
 * 429 with {@code Retry-After}, 500, slow answers, dropped connections, and "duplicates" (the
 * events are taken but the answer is a 500, so the client sends them again).
 */
public final class FakeStripe {

  /** Faults, each applied to one meter-event request. */
  public enum Fault {
    RATE_LIMITED, SERVER_ERROR, SLOW, DROP_CONNECTION, ACCEPT_THEN_FAIL
  }

  /** An event as accepted. */
  public record Accepted(String identifier, String eventName, String customer, long value, Instant timestamp) {
  }

  private final Vertx vertx;
  private final String apiKey;
  private final Map<String, Accepted> accepted = new ConcurrentHashMap<>();
  private final Set<String> unknownCustomers = ConcurrentHashMap.newKeySet();
  private final Map<String, Instant> sessions = new ConcurrentHashMap<>();
  private final Deque<Fault> queued = new ArrayDeque<>();
  private final AtomicInteger requests = new AtomicInteger();
  private final AtomicInteger duplicates = new AtomicInteger();
  private final AtomicInteger faultsInjected = new AtomicInteger();
  private final AtomicInteger sessionsCreated = new AtomicInteger();
  private final AtomicLong slowMillis = new AtomicLong(3_000);
  private volatile double faultRate;
  private volatile Random random = new Random(1);
  private volatile boolean down;
  private HttpServer server;

  public FakeStripe(Vertx vertx, String apiKey) {
    this.vertx = vertx;
    this.apiKey = apiKey;
  }

  public Future<FakeStripe> start() {
    return vertx.createHttpServer().requestHandler(this::handle).listen(0, "127.0.0.1").map(s -> {
      server = s;
      return this;
    });
  }

  public Future<Void> close() {
    return server == null ? Future.succeededFuture() : server.close();
  }

  public String baseUrl() {
    return "http://127.0.0.1:" + server.actualPort();
  }

  // ---- test controls

  /** The next meter-event requests meet these faults, in order. */
  public synchronized FakeStripe enqueue(Fault... faults) {
    queued.addAll(java.util.List.of(faults));
    return this;
  }

  /** From now on, each meter-event request meets a random fault with this probability (seeded). */
  public FakeStripe randomFaults(double rate, long seed) {
    this.random = new Random(seed);
    this.faultRate = rate;
    return this;
  }

  /** While down, every meter-event request answers 500. */
  public FakeStripe down(boolean down) {
    this.down = down;
    return this;
  }

  public FakeStripe slowMillis(long millis) {
    slowMillis.set(millis);
    return this;
  }

  /** Events for this customer are refused as Stripe refuses an unknown customer. */
  public FakeStripe unknownCustomer(String customer) {
    unknownCustomers.add(customer);
    return this;
  }

  /** The customer exists again (an operator fixed it). */
  public FakeStripe customerExists(String customer) {
    unknownCustomers.remove(customer);
    return this;
  }

  /** Stripe holds an event Tollgate never sent (to test reconciliation). */
  public FakeStripe inject(Accepted event) {
    accepted.put(event.identifier(), event);
    return this;
  }

  /** Stripe lost every event of a customer (to test reconciliation). */
  public FakeStripe forget(String customer) {
    accepted.values().removeIf(a -> a.customer().equals(customer));
    return this;
  }

  /** Every meter event session token expires now. */
  public FakeStripe expireSessions() {
    sessions.replaceAll((token, until) -> Instant.EPOCH);
    return this;
  }

  public Map<String, Accepted> accepted() {
    return Map.copyOf(accepted);
  }

  public long totalFor(String customer) {
    return accepted.values().stream().filter(a -> a.customer().equals(customer)).mapToLong(Accepted::value).sum();
  }

  public int requests() {
    return requests.get();
  }

  public int duplicates() {
    return duplicates.get();
  }

  public int faultsInjected() {
    return faultsInjected.get();
  }

  public int sessionsCreated() {
    return sessionsCreated.get();
  }

  // ---- the endpoints

  private void handle(HttpServerRequest req) {
    req.body().onSuccess(body -> {
      String path = req.path();
      if (!authorised(req, path)) {
        return;
      }
      if (req.method().name().equals("POST") && path.equals("/v2/billing/meter_event_session")) {
        createSession(req);
      } else if (req.method().name().equals("POST") && path.equals("/v1/billing/meter_events")) {
        withFault(req, () -> v1Event(body));
      } else if (req.method().name().equals("POST") && path.equals("/v2/billing/meter_event_stream")) {
        withFault(req, () -> v2Stream(body));
      } else if (req.method().name().equals("GET") && path.startsWith("/v1/billing/meters/") && path.endsWith("/event_summaries")) {
        summaries(req, path.substring("/v1/billing/meters/".length(), path.length() - "/event_summaries".length()));
      } else {
        v1Error(req, 404, "invalid_request_error", "resource_missing", "Unrecognized request URL (" + req.method() + ": " + path + ")");
      }
    });
  }

  private boolean authorised(HttpServerRequest req, String path) {
    String auth = req.getHeader("authorization");
    String token = auth != null && auth.startsWith("Bearer ") ? auth.substring(7) : "";
    if (path.equals("/v2/billing/meter_event_stream")) {
      Instant until = sessions.get(token);
      if (until == null || !until.isAfter(Instant.now())) {
        v2Error(req, 401, "temporary_session_expired", "billing_meter_event_session_expired",
            "The meter event session has expired; create a new one.");
        return false;
      }
      return true;
    }
    if (!apiKey.equals(token)) {
      v1Error(req, 401, "invalid_request_error", null, "Invalid API Key provided.");
      return false;
    }
    return true;
  }

  private synchronized Fault nextFault() {
    if (!queued.isEmpty()) {
      return queued.poll();
    }
    if (faultRate > 0 && random.nextDouble() < faultRate) {
      Fault[] all = Fault.values();
      return all[random.nextInt(all.length)];
    }
    return null;
  }

  /** An answer not yet written. */
  private record Reply(int status, JsonObject body) {
  }

  private void withFault(HttpServerRequest req, java.util.function.Supplier<Reply> process) {
    requests.incrementAndGet();
    if (down) {
      v1Error(req, 500, "api_error", null, "Stripe is down (fake)");
      return;
    }
    Fault fault = nextFault();
    if (fault == null) {
      Reply reply = process.get();
      json(req, reply.status(), reply.body());
      return;
    }
    faultsInjected.incrementAndGet();
    switch (fault) {
      case RATE_LIMITED -> {
        req.response().putHeader("retry-after", "0.05");
        v1Error(req, 429, "invalid_request_error", "rate_limit", "Too many requests (fake)");
      }
      case SERVER_ERROR -> v1Error(req, 500, "api_error", null, "Something went wrong on Stripe's end (fake)");
      case SLOW -> vertx.setTimer(slowMillis.get(), id -> {
        Reply reply = process.get();
        json(req, reply.status(), reply.body());
      });
      case DROP_CONNECTION -> req.connection().close();
      case ACCEPT_THEN_FAIL -> {
        // Take the events, but answer as if it failed: the client will send them again.
        process.get();
        v1Error(req, 500, "api_error", null, "Something went wrong on Stripe's end after taking the events (fake)");
      }
      default -> {
        Reply reply = process.get();
        json(req, reply.status(), reply.body());
      }
    }
  }

  private void createSession(HttpServerRequest req) {
    String token = "mes_tok_" + UUID.randomUUID().toString().replace("-", "");
    Instant now = Instant.now();
    Instant expires = now.plus(15, ChronoUnit.MINUTES);
    sessions.put(token, expires);
    sessionsCreated.incrementAndGet();
    json(req, 200, new JsonObject().put("id", "mes_" + UUID.randomUUID().toString().replace("-", ""))
        .put("object", "v2.billing.meter_event_session").put("authentication_token", token)
        .put("created", now.toString()).put("expires_at", expires.toString()).put("livemode", false));
  }

  private Reply v1Event(Buffer body) {
    Map<String, java.util.List<String>> form = new io.netty.handler.codec.http.QueryStringDecoder(body.toString(), false).parameters();
    java.util.function.Function<String, String> field = name -> form.containsKey(name) ? form.get(name).get(0) : null;
    String identifier = field.apply("identifier");
    String customer = field.apply("payload[stripe_customer_id]");
    String value = field.apply("payload[value]");
    String eventName = field.apply("event_name");
    long timestamp = field.apply("timestamp") == null ? Instant.now().getEpochSecond() : Long.parseLong(field.apply("timestamp"));
    String problem = validate(eventName, customer, value);
    if (problem != null) {
      return error(400, "invalid_request_error", problem.startsWith("No such customer") ? "resource_missing" : "parameter_invalid", problem);
    }
    Accepted event = new Accepted(identifier, eventName, customer, Long.parseLong(value), Instant.ofEpochSecond(timestamp));
    if (accepted.putIfAbsent(identifier, event) != null) {
      duplicates.incrementAndGet();
      return error(400, "invalid_request_error", "resource_already_exists", "An event with identifier " + identifier + " already exists.");
    }
    return new Reply(200, new JsonObject().put("object", "billing.meter_event").put("created", Instant.now().getEpochSecond())
        .put("event_name", eventName).put("identifier", identifier).put("livemode", false)
        .put("payload", new JsonObject().put("stripe_customer_id", customer).put("value", value)).put("timestamp", timestamp));
  }

  private static Reply error(int status, String type, String code, String message) {
    JsonObject error = new JsonObject().put("type", type).put("message", message);
    if (code != null) {
      error.put("code", code);
    }
    return new Reply(status, new JsonObject().put("error", error));
  }

  private Reply v2Stream(Buffer body) {
    JsonArray events = body.toJsonObject().getJsonArray("events", new JsonArray());
    if (events.isEmpty() || events.size() > 100) {
      return error(400, "invalid_request_error", "invalid_events", "events must hold 1-100 meter events");
    }
    // The stream validates a request as a whole before taking any of it.
    for (Object o : events) {
      JsonObject e = (JsonObject) o;
      JsonObject payload = e.getJsonObject("payload", new JsonObject());
      String problem = validate(e.getString("event_name"), payload.getString("stripe_customer_id"), payload.getString("value"));
      if (problem != null) {
        return error(400, "invalid_request_error", "invalid_event", problem);
      }
    }
    for (Object o : events) {
      JsonObject e = (JsonObject) o;
      JsonObject payload = e.getJsonObject("payload");
      Accepted event = new Accepted(e.getString("identifier"), e.getString("event_name"), payload.getString("stripe_customer_id"),
          Long.parseLong(payload.getString("value")), e.getString("timestamp") == null ? Instant.now() : Instant.parse(e.getString("timestamp")));
      if (accepted.putIfAbsent(event.identifier(), event) != null) {
        duplicates.incrementAndGet();
      }
    }
    return new Reply(200, new JsonObject());
  }

  private String validate(String eventName, String customer, String value) {
    if (eventName == null || eventName.isEmpty()) {
      return "event_name is required";
    }
    if (customer == null || unknownCustomers.contains(customer)) {
      return "No such customer: '" + customer + "'";
    }
    try {
      if (value == null || Long.parseLong(value) < 0) {
        return "payload[value] must be a whole number";
      }
    } catch (NumberFormatException e) {
      return "payload[value] must be a whole number";
    }
    return null;
  }

  private void summaries(HttpServerRequest req, String meterId) {
    String customer = req.getParam("customer");
    long start = Long.parseLong(req.getParam("start_time"));
    long end = Long.parseLong(req.getParam("end_time"));
    Map<Long, Long> byDay = new java.util.TreeMap<>();
    for (Accepted a : accepted.values()) {
      long t = a.timestamp().getEpochSecond();
      if (a.customer().equals(customer) && t >= start && t < end) {
        long day = a.timestamp().truncatedTo(ChronoUnit.DAYS).getEpochSecond();
        byDay.merge(day, a.value(), Long::sum);
      }
    }
    JsonArray data = new JsonArray();
    byDay.forEach((day, total) -> data.add(new JsonObject().put("id", "mtrsum_" + customer + "_" + day)
        .put("object", "billing.meter_event_summary").put("aggregated_value", total).put("start_time", day)
        .put("end_time", day + 86_400).put("livemode", false).put("meter", meterId)));
    json(req, 200, new JsonObject().put("object", "list").put("data", data).put("has_more", false)
        .put("url", "/v1/billing/meters/" + meterId + "/event_summaries"));
  }

  private static void json(HttpServerRequest req, int status, JsonObject body) {
    req.response().setStatusCode(status).putHeader("content-type", "application/json")
        .putHeader("request-id", "req_" + UUID.randomUUID().toString().replace("-", "").substring(0, 14)).end(body.encode());
  }

  /** Stripe's error envelope (v1 and v2 share its shape: type, code, message). */
  private static void v1Error(HttpServerRequest req, int status, String type, String code, String message) {
    Reply reply = error(status, type, code, message);
    json(req, reply.status(), reply.body());
  }

  private static void v2Error(HttpServerRequest req, int status, String type, String code, String message) {
    v1Error(req, status, type, code, message);
  }
}
