package io.tollgate.stripesync.webhooks;

import io.vertx.core.json.JsonObject;
import java.time.Instant;

/**
 * A Stripe event as Tollgate reads it: the envelope's fields and {@code data.object}, straight
 * from the JSON (not stripe-java's typed models, whose shape follows the library's pinned API
 * version rather than the version the account's webhook endpoint sends).
 *
 * @param created            Stripe's {@code created}: when the change happened, which orders events of one object
 * @param object             {@code data.object}: the object as it is after the change
 * @param previousAttributes {@code data.previous_attributes} on {@code *.updated} events, else empty
 */
public record StripeEvent(String id, String type, Instant created, boolean livemode, JsonObject object,
                          JsonObject previousAttributes, JsonObject payload) {

  /** The object of a v2 "thin" event: Stripe sends only a pointer, and the details are fetched by id. */
  public static final String THIN = "v2.core.event";
  /** 9999-12-31T23:59:59Z, the latest {@code created} accepted. */
  private static final double LATEST = 253_402_300_799d;

  /** A thin event (v2): {@link #object} holds {@code related_object} and, once fetched, the event's {@code data}. */
  public boolean thin() {
    return THIN.equals(payload.getValue("object"));
  }

  /** Reads the envelope; {@code null} fields are reported by name. */
  public static StripeEvent from(JsonObject payload) {
    String id = payload.getValue("id") instanceof String s ? s : null;
    if (id == null || !id.startsWith("evt_") || id.length() > 255) {
      throw new IllegalArgumentException("'id' must be a Stripe event id (evt_...)");
    }
    if (THIN.equals(payload.getValue("object"))) {
      return thin(id, payload);
    }
    if (!"event".equals(payload.getValue("object"))) {
      throw new IllegalArgumentException("'object' must be \"event\" (or \"v2.core.event\")");
    }
    if (!(payload.getValue("type") instanceof String type) || type.isBlank() || type.length() > 255) {
      throw new IllegalArgumentException("'type' must be an event type such as invoice.paid");
    }
    // Bounded to what timestamptz holds: a signed event Postgres refuses would be answered 503, and redelivered, forever.
    if (!(payload.getValue("created") instanceof Number created) || created.doubleValue() < 0 || created.doubleValue() > LATEST) {
      throw new IllegalArgumentException("'created' must be a Unix timestamp (0 to " + (long) LATEST + ")");
    }
    if (!(payload.getValue("data") instanceof JsonObject data) || !(data.getValue("object") instanceof JsonObject object)) {
      throw new IllegalArgumentException("'data.object' must be a JSON object");
    }
    JsonObject previous = data.getValue("previous_attributes") instanceof JsonObject p ? p : new JsonObject();
    return new StripeEvent(id, type, Instant.ofEpochSecond(created.longValue()), Boolean.TRUE.equals(payload.getValue("livemode")),
        object, previous, payload);
  }

  private static StripeEvent thin(String id, JsonObject payload) {
    if (!(payload.getValue("type") instanceof String type) || type.isBlank() || type.length() > 255) {
      throw new IllegalArgumentException("'type' must be an event type such as v1.billing.meter.error_report_triggered");
    }
    Instant created;
    try {
      created = Instant.parse(String.valueOf(payload.getValue("created")));
    } catch (java.time.format.DateTimeParseException e) {
      throw new IllegalArgumentException("'created' must be an RFC 3339 timestamp in a v2 event");
    }
    if (created.getEpochSecond() < 0 || created.getEpochSecond() > LATEST) {
      throw new IllegalArgumentException("'created' must be between 1970 and 9999 in a v2 event");
    }
    JsonObject object = payload.getValue("data") instanceof JsonObject data ? data.copy() : new JsonObject();
    if (payload.getValue("related_object") instanceof JsonObject related) {
      object.put("related_object", related);
    }
    return new StripeEvent(id, type, created, Boolean.TRUE.equals(payload.getValue("livemode")), object, new JsonObject(), payload);
  }
}
