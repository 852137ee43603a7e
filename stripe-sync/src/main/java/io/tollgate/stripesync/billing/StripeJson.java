package io.tollgate.stripesync.billing;

import io.tollgate.config.Credits;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reading Stripe objects as JSON, across API versions: an expandable field may be an id or the
 * object itself, and some fields moved (a subscription's period to its items; an invoice's
 * subscription to {@code parent.subscription_details}; a line's price to {@code pricing.price_details}).
 */
final class StripeJson {

  private StripeJson() {
  }

  /** A string field, or the {@code id} of an expanded object; null if absent. */
  static String id(JsonObject o, String key) {
    Object v = o == null ? null : o.getValue(key);
    if (v instanceof String s) {
      return s;
    }
    return v instanceof JsonObject j && j.getValue("id") instanceof String s ? s : null;
  }

  static String string(JsonObject o, String key) {
    return o != null && o.getValue(key) instanceof String s ? s : null;
  }

  static JsonObject object(JsonObject o, String key) {
    return o != null && o.getValue(key) instanceof JsonObject j ? j : new JsonObject();
  }

  static Instant epoch(JsonObject o, String key) {
    return o != null && o.getValue(key) instanceof Number n ? Instant.ofEpochSecond(n.longValue()) : null;
  }

  static long number(JsonObject o, String key) {
    return o != null && o.getValue(key) instanceof Number n ? n.longValue() : 0;
  }

  static JsonObject metadata(JsonObject o) {
    return object(o, "metadata");
  }

  /** {@code tollgate_account_id} from metadata, if it is a positive integer. */
  static Optional<Long> accountIdIn(JsonObject metadata) {
    return positive(string(metadata, "tollgate_account_id"));
  }

  /**
   * Positive credits written as decimal text in Stripe metadata ({@code tollgate_credits}: "500",
   * "2.5"), in units; empty when absent, not a number, not positive or more precise than a unit.
   * Metadata written before the unit existed holds whole credits, which read the same way.
   */
  static Optional<Long> positiveCredits(String raw) {
    if (raw == null) {
      return Optional.empty();
    }
    try {
      long units = Credits.units(raw);
      return units > 0 ? Optional.of(units) : Optional.empty();
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  static Optional<Long> positive(String raw) {
    if (raw == null) {
      return Optional.empty();
    }
    try {
      long v = Long.parseLong(raw.trim());
      return v > 0 ? Optional.of(v) : Optional.empty();
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  static List<JsonObject> data(JsonObject list) {
    List<JsonObject> out = new ArrayList<>();
    if (list != null && list.getValue("data") instanceof JsonArray array) {
      array.forEach(x -> {
        if (x instanceof JsonObject j) {
          out.add(j);
        }
      });
    }
    return out;
  }

  /** The price ids of a subscription's items. */
  static List<String> subscriptionPrices(JsonObject subscription) {
    List<String> out = new ArrayList<>();
    for (JsonObject item : data(object(subscription, "items"))) {
      String price = id(item, "price");
      if (price == null) {
        price = id(item, "plan");
      }
      if (price != null) {
        out.add(price);
      }
    }
    return out;
  }

  /** The subscription's current period end: on its items in recent API versions, on itself before. */
  static Instant subscriptionPeriodEnd(JsonObject subscription) {
    for (JsonObject item : data(object(subscription, "items"))) {
      Instant end = epoch(item, "current_period_end");
      if (end != null) {
        return end;
      }
    }
    return epoch(subscription, "current_period_end");
  }

  /** The subscription an invoice bills, in either API shape. */
  static String invoiceSubscription(JsonObject invoice) {
    String sub = id(invoice, "subscription");
    if (sub == null) {
      sub = id(object(object(invoice, "parent"), "subscription_details"), "subscription");
    }
    return sub;
  }

  static JsonObject invoiceSubscriptionMetadata(JsonObject invoice) {
    JsonObject details = object(object(invoice, "parent"), "subscription_details");
    JsonObject meta = object(details, "metadata");
    return meta.isEmpty() ? object(invoice, "subscription_details").getJsonObject("metadata", new JsonObject()) : meta;
  }

  /** An invoice line's price id, in either API shape. */
  static String linePrice(JsonObject line) {
    String price = id(line, "price");
    if (price == null) {
      price = string(object(object(line, "pricing"), "price_details"), "price");
    }
    if (price == null) {
      price = id(line, "plan");
    }
    return price;
  }
}
