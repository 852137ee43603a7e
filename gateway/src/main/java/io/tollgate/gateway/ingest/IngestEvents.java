package io.tollgate.gateway.ingest;

import io.tollgate.metering.actions.ActionIngest;
import io.tollgate.metering.admission.ActionAdmission;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Reads the body of {@code POST /tollgate/v1/events}: one event or a batch (a JSON array, or
 * {@code {"events": [...]}}), each in Tollgate's shape ({@code id, action, timestamp?, quantity?,
 * properties?}) or as a CloudEvent ({@code specversion, id, type, subject?, time?, data?}, the
 * shape OpenMeter-style clients send). A malformed event fails the whole request with a message
 * naming it (nothing is charged); what only the account can decide (unknown action, credits,
 * rate limits, timestamps) is answered per event by {@link ActionIngest}.
 */
final class IngestEvents {

  static final int MAX_BATCH = 100;
  /** Ids are printable ASCII, so they log, export and hash the same everywhere. */
  private static final Pattern ID = Pattern.compile("[\\x21-\\x7e]{1,128}");
  private static final int MAX_PROPERTIES_BYTES = 4_096;

  private IngestEvents() {
  }

  /** The events of a request, and whether it was a batch (answered per event) or one event. */
  record Parsed(List<ActionIngest.Event> events, boolean batch) {
  }

  /** Parses a request body; throws {@link BadEvent} naming the first thing wrong. */
  static Parsed parse(Object body) {
    if (body instanceof JsonArray array) {
      return new Parsed(batch(array, "events"), true);
    }
    if (body instanceof JsonObject object) {
      if (object.containsKey("events") && !object.containsKey("action") && !object.containsKey("specversion")) {
        Object events = object.getValue("events");
        if (!(events instanceof JsonArray array)) {
          throw new BadEvent("events must be an array of events");
        }
        return new Parsed(batch(array, "events"), true);
      }
      return new Parsed(List.of(event(object, "event")), false);
    }
    throw new BadEvent("the body must be a JSON event, an array of events, or {\"events\": [...]}");
  }

  private static List<ActionIngest.Event> batch(JsonArray array, String name) {
    if (array.isEmpty()) {
      throw new BadEvent(name + " is empty: send 1-" + MAX_BATCH + " events");
    }
    if (array.size() > MAX_BATCH) {
      throw new BadEvent(name + " holds " + array.size() + " events; a batch holds at most " + MAX_BATCH);
    }
    List<ActionIngest.Event> out = new ArrayList<>(array.size());
    for (int i = 0; i < array.size(); i++) {
      Object e = array.getValue(i);
      if (!(e instanceof JsonObject object)) {
        throw new BadEvent(name + "[" + i + "] must be a JSON object");
      }
      out.add(event(object, name + "[" + i + "]"));
    }
    return out;
  }

  /** One event, Tollgate's shape or a CloudEvent (recognised by {@code specversion}). */
  static ActionIngest.Event event(JsonObject e, String at) {
    boolean cloudEvent = e.containsKey("specversion");
    if (cloudEvent && !"1.0".equals(e.getValue("specversion"))) {
      throw new BadEvent(at + ".specversion must be \"1.0\" (CloudEvents 1.0)");
    }
    String id = string(e, "id", at, true);
    if (!ID.matcher(id).matches()) {
      throw new BadEvent(at + ".id must be 1-128 printable ASCII characters without spaces");
    }
    String action = string(e, cloudEvent ? "type" : "action", at, true);
    if (!io.tollgate.config.ActionCatalog.ACTION_NAME.matcher(action).matches()) {
      throw new BadEvent(at + "." + (cloudEvent ? "type" : "action") + " must be an action name (1-64 letters, digits, '_', '-', '.')");
    }
    Instant timestamp = time(e, cloudEvent ? "time" : "timestamp", at);
    JsonObject properties;
    long quantity;
    if (cloudEvent) {
      Object data = e.getValue("data");
      if (data != null && !(data instanceof JsonObject)) {
        throw new BadEvent(at + ".data must be a JSON object");
      }
      properties = data == null ? new JsonObject() : ((JsonObject) data).copy();
      quantity = properties.containsKey("quantity") ? quantity(properties.getValue("quantity"), at + ".data.quantity") : 1;
      String subject = e.containsKey("subject") ? string(e, "subject", at, false) : null;
      if (subject != null) {
        // The account is the API key's; the subject is kept with the event for the app's own reference.
        properties.put("subject", subject);
      }
    } else {
      Object raw = e.getValue("properties");
      if (raw != null && !(raw instanceof JsonObject)) {
        throw new BadEvent(at + ".properties must be a JSON object");
      }
      properties = (JsonObject) raw;
      quantity = e.containsKey("quantity") ? quantity(e.getValue("quantity"), at + ".quantity") : 1;
    }
    String json = properties == null || properties.isEmpty() ? null : properties.encode();
    if (json != null && json.length() > MAX_PROPERTIES_BYTES) {
      throw new BadEvent(at + (cloudEvent ? ".data" : ".properties") + " is " + json.length() + " bytes encoded; at most "
          + MAX_PROPERTIES_BYTES);
    }
    if (json != null && json.contains("\\u0000")) {
      // Postgres' jsonb cannot hold NUL: refused here rather than poisoning the usage pipeline.
      throw new BadEvent(at + (cloudEvent ? ".data" : ".properties") + " must not contain NUL characters (\\u0000)");
    }
    return new ActionIngest.Event(id, action, quantity, timestamp, json);
  }

  static long quantity(Object raw, String at) {
    if ((raw instanceof Integer || raw instanceof Long) && ((Number) raw).longValue() >= 1
        && ((Number) raw).longValue() <= ActionAdmission.MAX_QUANTITY) {
      return ((Number) raw).longValue();
    }
    throw new BadEvent(at + " must be a whole number 1-" + ActionAdmission.MAX_QUANTITY + ", got " + describe(raw));
  }

  private static String string(JsonObject e, String field, String at, boolean required) {
    Object v = e.getValue(field);
    if (v == null) {
      if (required) {
        throw new BadEvent(at + "." + field + " is required");
      }
      return null;
    }
    if (!(v instanceof String s) || s.isEmpty()) {
      throw new BadEvent(at + "." + field + " must be a non-empty string");
    }
    return s;
  }

  private static Instant time(JsonObject e, String field, String at) {
    Object v = e.getValue(field);
    if (v == null) {
      return null;
    }
    if (v instanceof String s) {
      try {
        return OffsetDateTime.parse(s).toInstant();
      } catch (DateTimeParseException ex) {
        throw new BadEvent(at + "." + field + " must be an RFC 3339 time (2026-05-01T12:00:00Z), got " + describe(v));
      }
    }
    throw new BadEvent(at + "." + field + " must be an RFC 3339 time string, got " + describe(v));
  }

  static String describe(Object v) {
    if (v instanceof String s) {
      return "\"" + (s.length() > 40 ? s.substring(0, 40) + "…" : s) + "\"";
    }
    return v instanceof JsonObject ? "an object" : v instanceof JsonArray ? "an array" : String.valueOf(v);
  }

  /** A request that cannot be read as events: 400, nothing charged. */
  static final class BadEvent extends RuntimeException {
    BadEvent(String message) {
      super(message, null, false, false);
    }
  }
}
