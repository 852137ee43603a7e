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
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A local HTTP server speaking the Stripe endpoints Tollgate uses, for the real stripe-java client
 * pointed at it ({@code setApiBase}/{@code setMeterEventsBase}).
 *
 * <p>Meter sync: {@code POST /v1/billing/meter_events}, {@code POST /v2/billing/meter_event_session},
 * {@code POST /v2/billing/meter_event_stream} and
 * {@code GET /v1/billing/meters/{id}/event_summaries}. It keeps what it accepted, deduplicates
 * identifiers as Stripe does (v1 answers a duplicate with {@code resource_already_exists}; the v2
 * stream drops it silently), checks the API key and session tokens, and injects faults on demand —
 * queued one-shot faults or a random mix: 429 with {@code Retry-After}, 500, slow answers, dropped
 * connections, and "duplicates" (the events are taken but the answer is a 500, so the client sends
 * them again).
 *
 * <p>Billing: {@code POST /v1/customers}, {@code GET /v1/customers/{id}},
 * {@code POST /v1/checkout/sessions}, {@code GET /v1/checkout/sessions/{id}},
 * {@code POST /v1/billing_portal/sessions}, {@code GET /v1/invoices},
 * {@code POST /v1/payment_intents}, {@code GET /v1/payment_intents/{id}} and
 * {@code GET /v1/subscriptions/{id}} and {@code GET /v1/prices/{id}} (prices given to {@link #definePrice}), form-encoded in and Stripe's JSON objects out
 * ({@link StripeObjects}), validated as Stripe validates the parameters Tollgate sends. An
 * {@code Idempotency-Key} is honoured as Stripe does: a request that ran (200, or a 402 card error)
 * is stored under its key and replayed to a retry with {@code Idempotent-Replayed: true}; the same
 * key with other parameters is an {@code idempotency_error}. Faults for these endpoints are queued
 * per path prefix ({@link #enqueueFor}). Cards succeed unless {@link #cardOutcome} says otherwise.
 * The state changes Stripe would announce become events ({@link StripeEvents}), in order: those of
 * API calls (customer.created, payment_intent.succeeded / payment_failed), and those of what a
 * customer or Stripe itself would do ({@link #completeCheckout}, {@link #renewSubscription},
 * {@link #cancelSubscription}, {@link #attachCard}), read with {@link #eventCount()} and
 * {@link #eventsSince(int)}; {@link WebhookSender} delivers them.
 */
public final class FakeStripe {

  /** Faults, each applied to one request. */
  public enum Fault {
    /** 429 {@code rate_limit} with {@code Retry-After}: stripe-java does not retry it. */
    RATE_LIMITED,
    /** 500: stripe-java retries it when its network retries are on. */
    SERVER_ERROR,
    /** The answer comes after {@link #slowMillis(long)}. */
    SLOW,
    /** The connection is closed without an answer. */
    DROP_CONNECTION,
    /** The request is carried out, but the answer is a 500: a retry must not do it twice. */
    ACCEPT_THEN_FAIL,
    /** 429 {@code lock_timeout} with {@code Stripe-Should-Retry: true}: stripe-java retries it. Never in the random mix. */
    LOCK_TIMEOUT
  }

  /** How a customer's card answers a confirmed PaymentIntent. */
  public enum CardOutcome {
    SUCCEED,
    /** 402 {@code card_declined}, decline code {@code insufficient_funds}. */
    DECLINE,
    /** Off-session: 402 {@code authentication_required}; on-session: status {@code requires_action}. */
    AUTHENTICATION_REQUIRED
  }

  private static final Fault[] RANDOM_MIX = {Fault.RATE_LIMITED, Fault.SERVER_ERROR, Fault.SLOW, Fault.DROP_CONNECTION,
      Fault.ACCEPT_THEN_FAIL};

  /** An event as accepted. */
  public record Accepted(String identifier, String eventName, String customer, long value, Instant timestamp) {
  }

  private final Vertx vertx;
  private final String apiKey;
  private final Map<String, Accepted> accepted = new ConcurrentHashMap<>();
  private final Set<String> unknownCustomers = ConcurrentHashMap.newKeySet();
  private final Map<String, Instant> sessions = new ConcurrentHashMap<>();
  private final Deque<Fault> queued = new ArrayDeque<>();
  private final Map<String, Deque<Fault>> queuedFor = new LinkedHashMap<>();
  private final Map<String, Stored> idempotent = new HashMap<>();
  private final Map<String, AtomicInteger> requestsByPath = new ConcurrentHashMap<>();
  private final AtomicInteger idempotentReplays = new AtomicInteger();
  private final FakeStripeBilling billing = new FakeStripeBilling();
  private final Map<String, JsonObject> v2Events = new ConcurrentHashMap<>();
  private final AtomicInteger requests = new AtomicInteger();
  /** v1 meter event calls being answered, and the most seen at once, per customer. */
  private final Map<String, AtomicInteger> v1InFlight = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, Integer> v1MaxInFlight = new java.util.concurrent.ConcurrentHashMap<>();
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

  /** The next meter-event requests meet these faults, in order (billing endpoints: {@link #enqueueFor}). */
  public synchronized FakeStripe enqueue(Fault... faults) {
    queued.addAll(java.util.List.of(faults));
    return this;
  }

  /**
   * The next requests to a billing endpoint whose path starts with {@code pathPrefix}
   * ({@code "/v1/payment_intents"}, {@code "/v1/"}) meet these faults, in order. Retries count:
   * stripe-java's own retries consume the queue too.
   */
  public synchronized FakeStripe enqueueFor(String pathPrefix, Fault... faults) {
    queuedFor.computeIfAbsent(pathPrefix, p -> new ArrayDeque<>()).addAll(java.util.List.of(faults));
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

  /** The most v1 meter event calls for {@code customer} that were being answered at the same time. */
  public int maxConcurrentV1(String customer) {
    return v1MaxInFlight.getOrDefault(customer, 0);
  }

  /** Counts a v1 call as in flight until its answer is written (or its connection closes). */
  private void trackV1(HttpServerRequest req, Buffer body) {
    java.util.List<String> customers = new io.netty.handler.codec.http.QueryStringDecoder(body.toString(), false).parameters()
        .get("payload[stripe_customer_id]");
    if (customers == null || customers.isEmpty()) {
      return;
    }
    String customer = customers.get(0);
    int now = v1InFlight.computeIfAbsent(customer, c -> new AtomicInteger()).incrementAndGet();
    v1MaxInFlight.merge(customer, now, Math::max);
    java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
    Runnable finished = () -> {
      if (done.compareAndSet(false, true)) {
        v1InFlight.get(customer).decrementAndGet();
      }
    };
    req.response().endHandler(v -> finished.run());
    req.response().closeHandler(v -> finished.run());
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

  /** Requests that reached a billing endpoint whose path starts with this prefix, retries and faulted ones included. */
  public int requestsTo(String pathPrefix) {
    return requestsByPath.entrySet().stream().filter(e -> e.getKey().startsWith(pathPrefix)).mapToInt(e -> e.getValue().get()).sum();
  }

  /** Requests answered from the idempotency store instead of being carried out again. */
  public int idempotentReplays() {
    return idempotentReplays.get();
  }

  // ---- billing: test controls and what the fake holds

  /** Times for objects and events made from now on (Stripe's clock; a test clock moves it). */
  public FakeStripe clock(java.time.Clock clock) {
    billing.clock(clock);
    return this;
  }

  /**
   * Defines a price Checkout can sell. Undefined prices are inferred: one-time 10.00 USD in payment
   * mode; in subscription mode monthly, metered when the line item has no quantity, else licensed at 10.00 USD.
   */
  public FakeStripe definePrice(StripeObjects.Price price) {
    billing.definePrice(price);
    return this;
  }

  /** How this customer's card answers confirmed PaymentIntents and renewals from now on. */
  public FakeStripe cardOutcome(String customerId, CardOutcome outcome) {
    billing.cardOutcome(customerId, outcome);
    return this;
  }

  /** Customers created through {@code POST /v1/customers} (an idempotent replay creates none). */
  public int customersCreated() {
    return billing.customersCreated();
  }

  /** Checkout sessions created through the API. */
  public int checkoutSessions() {
    return billing.checkoutSessions();
  }

  /** PaymentIntents created through the API, declined ones included (Checkout's own are not counted). */
  public int paymentIntentsCreated() {
    return billing.paymentIntentsCreated();
  }

  public int portalSessions() {
    return billing.portalSessions();
  }

  public java.util.Optional<JsonObject> customer(String id) {
    return billing.customer(id);
  }

  public java.util.Optional<JsonObject> checkoutSession(String id) {
    return billing.checkoutSession(id);
  }

  /**
   * The form parameters a Checkout session was created with, as Stripe received them (all values are strings;
   * {@code a[b][c]=v} becomes {@code {"a": {"b": {"c": "v"}}}}), so a test can see what the client asked for.
   */
  public java.util.Optional<JsonObject> checkoutParams(String id) {
    return billing.checkoutParams(id);
  }

  public java.util.Optional<JsonObject> subscription(String id) {
    return billing.subscription(id);
  }

  public java.util.Optional<JsonObject> paymentIntent(String id) {
    return billing.paymentIntent(id);
  }

  /** Every PaymentIntent, in creation order. */
  public java.util.List<JsonObject> paymentIntents() {
    return billing.paymentIntents();
  }

  /** The PaymentIntent that paid this invoice (as {@code GET /v1/invoice_payments} reports it), for a refund of its charge. */
  public String invoicePaymentIntent(String invoiceId) {
    return billing.invoicePaymentIntent(invoiceId);
  }

  /** The customer's invoices, newest first. */
  public java.util.List<JsonObject> invoices(String customerId) {
    return billing.invoices(customerId);
  }

  /**
   * The customer pays the open Checkout session. Payment mode: a card is saved on the customer and
   * a succeeded PaymentIntent carries the session's {@code payment_intent_data.metadata}; events
   * checkout.session.completed, payment_intent.succeeded. Subscription mode: the subscription
   * (trialing when the session had trial days) and its paid first invoice exist from now on;
   * events customer.subscription.created, checkout.session.completed, invoice.paid.
   *
   * @return the events, in the order Stripe would send them; they are also in {@link #eventsSince}
   */
  public java.util.List<JsonObject> completeCheckout(String sessionId) {
    return billing.completeCheckout(sessionId);
  }

  /**
   * The subscription reaches its period end: the next period starts and an invoice bills it,
   * charged by the customer's {@link #cardOutcome}. Paid: customer.subscription.updated,
   * invoice.finalized, invoice.paid (status back to active). Declined: customer.subscription.updated
   * (past_due), invoice.finalized, invoice.payment_failed with a next attempt in three days.
   */
  public java.util.List<JsonObject> renewSubscription(String subscriptionId) {
    return billing.renewSubscription(subscriptionId);
  }

  /** The subscription ends now: customer.subscription.deleted. */
  public java.util.List<JsonObject> cancelSubscription(String subscriptionId) {
    return billing.cancelSubscription(subscriptionId);
  }

  /**
   * The customer saves a card (in the portal): payment_method.attached and, when it becomes the
   * default, customer.updated with the old {@code invoice_settings} in previous_attributes.
   *
   * @return the card's payment method id
   */
  public String attachCard(String customerId, boolean asDefault) {
    return billing.attachCard(customerId, asDefault);
  }

  /**
   * Stripe found invalid meter events: the full v2 event is served at {@code GET /v2/core/events/{id}}
   * (stripe-java's {@code EventNotification.fetchEvent()}), and the thin notification Stripe would
   * POST to an event destination is returned, to be delivered with {@link WebhookSender}.
   */
  public JsonObject reportMeterErrors(StripeEvents.MeterErrorReport report) {
    v2Events.put(report.id(), report.json());
    return report.notification();
  }

  /** How many events the fake has produced: a mark for {@link #eventsSince(int)}. */
  public int eventCount() {
    return billing.eventCount();
  }

  /** The events produced after {@code mark} (a former {@link #eventCount()}), oldest first. */
  public java.util.List<JsonObject> eventsSince(int mark) {
    return billing.eventsSince(mark);
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
        trackV1(req, body);
        withFault(req, () -> v1Event(body));
      } else if (req.method().name().equals("POST") && path.equals("/v2/billing/meter_event_stream")) {
        withFault(req, () -> v2Stream(body));
      } else if (req.method().name().equals("GET") && path.startsWith("/v1/billing/meters/") && path.endsWith("/event_summaries")) {
        summaries(req, path.substring("/v1/billing/meters/".length(), path.length() - "/event_summaries".length()));
      } else if (req.method().name().equals("GET") && path.startsWith("/v2/core/events/")) {
        JsonObject event = v2Events.get(path.substring("/v2/core/events/".length()));
        if (event == null) {
          v2Error(req, 404, "not_found", "not_found", "The resource wasn't found.");
        } else {
          json(req, 200, event);
        }
      } else if (billing.routes(path)) {
        billingRequest(req, body);
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
      // As Stripe words it: the key shown masked but for its last four characters.
      String shown = token.length() <= 12 ? token : token.substring(0, 8) + "*".repeat(token.length() - 12) + token.substring(token.length() - 4);
      v1Error(req, 401, "invalid_request_error", null, "Invalid API Key provided: " + shown);
      return false;
    }
    return true;
  }

  private synchronized Fault nextFault() {
    if (!queued.isEmpty()) {
      return queued.poll();
    }
    if (faultRate > 0 && random.nextDouble() < faultRate) {
      return RANDOM_MIX[random.nextInt(RANDOM_MIX.length)];
    }
    return null;
  }

  private synchronized Fault nextFaultFor(String path) {
    for (Map.Entry<String, Deque<Fault>> e : queuedFor.entrySet()) {
      if (path.startsWith(e.getKey()) && !e.getValue().isEmpty()) {
        return e.getValue().poll();
      }
    }
    return null;
  }

  /** An answer not yet written. */
  record Reply(int status, JsonObject body, Map<String, String> headers) {
    Reply(int status, JsonObject body) {
      this(status, body, Map.of());
    }

    Reply withHeader(String name, String value) {
      Map<String, String> more = new HashMap<>(headers);
      more.put(name, value);
      return new Reply(status, body, more);
    }

    /** The parameter an error is about ({@code error.param}). */
    Reply withParam(String param) {
      JsonObject copy = body.copy();
      copy.getJsonObject("error").put("param", param);
      return new Reply(status, copy, headers);
    }
  }

  /** A billing request's outcome as it ran, for replaying it to a retry with the same idempotency key. */
  private record Stored(String fingerprint, Reply reply) {
  }

  private void billingRequest(HttpServerRequest req, Buffer body) {
    requestsByPath.computeIfAbsent(req.path(), p -> new AtomicInteger()).incrementAndGet();
    Fault fault = nextFaultFor(req.path());
    java.util.function.Supplier<Reply> process = () -> idempotently(req, body);
    if (fault == null) {
      write(req, process.get());
      return;
    }
    faultsInjected.incrementAndGet();
    applyFault(req, fault, process);
  }

  /**
   * Stripe's idempotency: a POST that ran is stored under its key, and a retry gets the stored
   * answer; requests refused before they ran (validation errors, faults) store nothing.
   */
  private Reply idempotently(HttpServerRequest req, Buffer body) {
    String method = req.method().name();
    String key = req.getHeader("idempotency-key");
    JsonObject params = FormBody.decode(method.equals("GET") ? req.query() : body.toString());
    if (!method.equals("POST") || key == null) {
      return billing.handle(method, req.path(), params, null);
    }
    String fingerprint = req.path() + "?" + body;
    synchronized (idempotent) {
      Stored stored = idempotent.get(key);
      if (stored != null) {
        if (!stored.fingerprint().equals(fingerprint)) {
          return error(400, "idempotency_error", null, "Keys for idempotent requests can only be used with the same parameters "
              + "they were first used with. Try using a key other than '" + key + "' if you meant to execute a different request.");
        }
        idempotentReplays.incrementAndGet();
        return stored.reply().withHeader("idempotent-replayed", "true");
      }
      Reply reply = billing.handle(method, req.path(), params, key);
      if (reply.status() == 200 || reply.status() == 402) {
        idempotent.put(key, new Stored(fingerprint, reply));
      }
      return reply;
    }
  }

  private void withFault(HttpServerRequest req, java.util.function.Supplier<Reply> process) {
    requests.incrementAndGet();
    if (down) {
      v1Error(req, 500, "api_error", null, "Stripe is down (fake)");
      return;
    }
    Fault fault = nextFault();
    if (fault == null) {
      write(req, process.get());
      return;
    }
    faultsInjected.incrementAndGet();
    applyFault(req, fault, process);
  }

  private void applyFault(HttpServerRequest req, Fault fault, java.util.function.Supplier<Reply> process) {
    switch (fault) {
      case RATE_LIMITED -> {
        req.response().putHeader("retry-after", "0.05");
        v1Error(req, 429, "invalid_request_error", "rate_limit", "Too many requests (fake)");
      }
      case LOCK_TIMEOUT -> {
        req.response().putHeader("stripe-should-retry", "true");
        v1Error(req, 429, "invalid_request_error", "lock_timeout",
            "This object cannot be accessed right now because another API request or Stripe process is currently accessing it (fake)");
      }
      case SERVER_ERROR -> v1Error(req, 500, "api_error", null, "Something went wrong on Stripe's end (fake)");
      case SLOW -> vertx.setTimer(slowMillis.get(), id -> write(req, process.get()));
      case DROP_CONNECTION -> req.connection().close();
      case ACCEPT_THEN_FAIL -> {
        // Take the events, but answer as if it failed: the client will send them again.
        process.get();
        v1Error(req, 500, "api_error", null, "Something went wrong on Stripe's end after taking the events (fake)");
      }
      default -> write(req, process.get());
    }
  }

  private static void write(HttpServerRequest req, Reply reply) {
    reply.headers().forEach(req.response()::putHeader);
    json(req, reply.status(), reply.body());
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

  static Reply error(int status, String type, String code, String message) {
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
