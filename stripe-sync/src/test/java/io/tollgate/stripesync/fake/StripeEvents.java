package io.tollgate.stripesync.fake;

import com.stripe.Stripe;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * Stripe webhook events as Stripe sends them: the snapshot envelope ({@code object: "event"},
 * {@code api_version}, {@code created}, {@code livemode}, {@code pending_webhooks},
 * {@code request {id, idempotency_key}}, {@code type}, {@code data {object, previous_attributes}})
 * around an object built with {@link StripeObjects}. Each object builder has named shortcuts for the
 * events that carry it; the envelope's id, time and request are the caller's to set.
 *
 * <pre>{@code
 * StripeObjects.Subscription sub = StripeObjects.subscription().customer("cus_1").licensedItem("price_pro", 1)
 *     .metadata("tollgate_account_id", "42");
 * JsonObject created = sub.createdEvent().id("evt_1").created(t0).json();
 * JsonObject updated = sub.status("past_due").updatedEvent(new JsonObject().put("status", "active"))
 *     .created(t0.plusSeconds(60)).json();
 * String body = StripeObjects.checkoutSession().account(42).paymentIntent("pi_1").amountTotal(500)
 *     .completedEvent().payload();
 * }</pre>
 *
 * <p>The meter error report is no snapshot event: Stripe sends it as a v2 "thin" event, see
 * {@link #meterErrorReport()} (which also gives the snapshot form handlers may accept,
 * {@link MeterErrorReport#snapshotEvent()}).
 */
public final class StripeEvents {

  private StripeEvents() {
  }

  /** An event of {@code type} carrying {@code object} as {@code data.object}: id evt_..., created now. */
  public static Event event(String type, JsonObject object) {
    return new Event(type, object);
  }

  /**
   * {@code v1.billing.meter.error_report_triggered}: Stripe found invalid meter events (a v2 event;
   * {@link MeterErrorReport#snapshotEvent()} gives the same report as a snapshot event).
   */
  public static MeterErrorReport meterErrorReport() {
    return new MeterErrorReport();
  }

  /** A snapshot event envelope. */
  public static final class Event {
    private final JsonObject json;

    Event(String type, JsonObject object) {
      json = new JsonObject().put("id", StripeIds.next("evt")).put("object", "event").put("api_version", Stripe.API_VERSION)
          .put("created", Instant.now().getEpochSecond()).put("data", new JsonObject().put("object", object))
          .put("livemode", false).put("pending_webhooks", 1)
          .put("request", new JsonObject().put("id", null).put("idempotency_key", null)).put("type", type);
    }

    public Event id(String id) {
      json.put("id", id);
      return this;
    }

    /** When the change happened (Stripe orders nothing else by it; handlers compare it to skip stale events). */
    public Event created(Instant at) {
      json.put("created", at.getEpochSecond());
      return this;
    }

    /** The account's API version, which shapes {@code data.object}; stripe-java's own by default. */
    public Event apiVersion(String version) {
      json.put("api_version", version);
      return this;
    }

    public Event pendingWebhooks(int pending) {
      json.put("pending_webhooks", pending);
      return this;
    }

    /** The API request that caused it; both {@code null} (the default) for Stripe's own doing, such as a renewal. */
    public Event request(String requestId, String idempotencyKey) {
      json.put("request", new JsonObject().put("id", requestId).put("idempotency_key", idempotencyKey));
      return this;
    }

    /** {@code data.previous_attributes}: the old values of the fields an {@code *.updated} event changed. */
    public Event previousAttributes(JsonObject previous) {
      json.getJsonObject("data").put("previous_attributes", previous == null ? null : previous.copy());
      return this;
    }

    public String id() {
      return json.getString("id");
    }

    public String type() {
      return json.getString("type");
    }

    /** The event, as a copy. */
    public JsonObject json() {
      return json.copy();
    }

    /** The body Stripe would POST. */
    public String payload() {
      return json.encode();
    }
  }

  /**
   * {@code v1.billing.meter.error_report_triggered}, a v2 event ({@code object: "v2.core.event"},
   * {@code created} an RFC 3339 time, {@code related_object} the meter). Stripe delivers it to an
   * event destination as a thin notification, {@link #notification()}, without {@code data}; the
   * receiver fetches the full event, {@link #json()}, from {@code GET /v2/core/events/{id}}.
   * stripe-java reads the notification with {@code StripeClient.parseEventNotification}.
   */
  public static final class MeterErrorReport {
    private String id = "evt_test_" + StripeIds.random(54);
    private Instant created = Instant.now().truncatedTo(ChronoUnit.MILLIS);
    private String meter = "mtr_test_" + StripeIds.random(32);
    private Instant validationStart = created.minusSeconds(60).truncatedTo(ChronoUnit.SECONDS);
    private Instant validationEnd = created.truncatedTo(ChronoUnit.SECONDS);
    private final JsonArray errorTypes = new JsonArray();
    private long errorCount;

    public MeterErrorReport id(String id) {
      this.id = id;
      return this;
    }

    public MeterErrorReport created(Instant at) {
      this.created = at;
      return this;
    }

    public MeterErrorReport meter(String meterId) {
      this.meter = meterId;
      return this;
    }

    public MeterErrorReport validationWindow(Instant start, Instant end) {
      this.validationStart = start;
      this.validationEnd = end;
      return this;
    }

    /**
     * {@code count} invalid events of one kind, with one sample ({@code meter_event_no_customer_defined},
     * {@code meter_event_customer_not_found}, {@code meter_event_invalid_value}, ...).
     */
    public MeterErrorReport error(String code, long count, String sampleMessage, String sampleIdentifier) {
      errorTypes.add(new JsonObject().put("code", code).put("error_count", count).put("sample_errors", new JsonArray()
          .add(new JsonObject().put("error_message", sampleMessage).put("request", new JsonObject().put("identifier", sampleIdentifier)))));
      errorCount += count;
      return this;
    }

    public String id() {
      return id;
    }

    /** The thin notification as delivered to the endpoint: no {@code data}. */
    public JsonObject notification() {
      return new JsonObject().put("id", id).put("object", "v2.core.event").put("context", null).put("created", created.toString())
          .put("livemode", false).put("reason", null).put("related_object", new JsonObject().put("id", meter)
              .put("type", "billing.meter").put("url", "/v1/billing/meters/" + meter))
          .put("type", "v1.billing.meter.error_report_triggered");
    }

    /** The full event, as {@code GET /v2/core/events/{id}} returns it. */
    public JsonObject json() {
      return notification().put("data", new JsonObject().put("developer_message_summary", summary()).put("reason", reason())
          .put("validation_end", validationEnd.toString()).put("validation_start", validationStart.toString()));
    }

    /**
     * The report as a {@code billing.meter_error_report} object: the meter expanded (its event name
     * Tollgate's default, {@code tollgate_credits}), the same {@code reason}, the validation window in
     * Unix seconds. What {@link #snapshotEvent()} carries as {@code data.object}.
     */
    public JsonObject object() {
      return new JsonObject().put("object", "billing.meter_error_report").put("livemode", false)
          .put("meter", new JsonObject().put("id", meter).put("object", "billing.meter").put("event_name", "tollgate_credits"))
          .put("reason", reason()).put("summary", summary()).put("validation_end", validationEnd.getEpochSecond())
          .put("validation_start", validationStart.getEpochSecond());
    }

    /**
     * The same report as a snapshot event, {@code billing.meter.error_report_triggered}: the
     * {@code object: "event"} envelope of {@link Event} around {@link #object()}, created when the
     * report was (to the second), with an id of its own. Stripe documents only the thin event for
     * meter error reports; this is the shape a handler that also accepts a snapshot delivery meets.
     */
    public Event snapshotEvent() {
      return new Event("billing.meter.error_report_triggered", object()).created(created);
    }

    private String summary() {
      return "There " + (errorCount == 1 ? "is 1 invalid event" : "are " + errorCount + " invalid events");
    }

    private JsonObject reason() {
      return new JsonObject().put("error_count", errorCount).put("error_types", errorTypes.copy());
    }

    /** The body Stripe would POST. */
    public String payload() {
      return notification().encode();
    }
  }
}
