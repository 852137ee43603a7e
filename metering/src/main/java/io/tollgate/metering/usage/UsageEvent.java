package io.tollgate.metering.usage;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * One metered request, as appended to the usage stream by the settle script. {@code credits} and
 * {@code overageCredits} are units (millicredits, {@code io.tollgate.config.Credits}); the stream
 * entry says so with {@code unit=mc}, and an entry without it (written before the unit existed)
 * holds whole credits and is converted when read ({@code UsageRows.parse}). {@code outcome} is
 * {@code ok}, {@code upstream_error}, {@code client_abort} or {@code gateway_error}.
 * {@code overageCredits} is the part of {@code credits} the balance did not cover (hybrid accounts
 * that bill overage): the settle script computes it and adds it to the stream entry.
 * {@code action} is set for a billable action reported through the ingest API, null for a proxied request.
 */
public record UsageEvent(UUID eventId, long accountId, long keyId, String route, String model, long inputTokens,
                         long outputTokens, long credits, int status, long upstreamLatencyMs, boolean estimated,
                         String outcome, long occurredAtMillis, long overageCredits, ActionUsage action) {

  /**
   * What a billable action's event adds: the action, its tier (null when it has credits of its
   * own), units, how many of them the tier's allowance covered (the rest cost {@code credits}),
   * the client's event id (null for a committed reservation), the time the client gave (null when
   * none) and its properties as JSON text (null when none).
   */
  public record ActionUsage(String action, String tier, long quantity, long allowanceUnits, String ingestId,
                            Long reportedAtMillis, String properties) {
  }

  /** A proxied request's event, as settled. */
  public UsageEvent(UUID eventId, long accountId, long keyId, String route, String model, long inputTokens,
                    long outputTokens, long credits, int status, long upstreamLatencyMs, boolean estimated,
                    String outcome, long occurredAtMillis, long overageCredits) {
    this(eventId, accountId, keyId, route, model, inputTokens, outputTokens, credits, status, upstreamLatencyMs, estimated,
        outcome, occurredAtMillis, overageCredits, null);
  }

  /** The stream field that marks an entry's credits as units, and its value. */
  public static final String UNIT_FIELD = "unit";
  public static final String UNIT = "mc";

  /** An event before settlement: its overage is not known yet. */
  public UsageEvent(UUID eventId, long accountId, long keyId, String route, String model, long inputTokens,
                    long outputTokens, long credits, int status, long upstreamLatencyMs, boolean estimated,
                    String outcome, long occurredAtMillis) {
    this(eventId, accountId, keyId, route, model, inputTokens, outputTokens, credits, status, upstreamLatencyMs, estimated,
        outcome, occurredAtMillis, 0);
  }

  /** Field/value pairs for XADD, in a fixed order (the settle script appends {@code overage}). */
  public List<String> toStreamFields() {
    List<String> f = new ArrayList<>(28);
    f.add("event_id"); f.add(eventId.toString());
    f.add("account_id"); f.add(Long.toString(accountId));
    f.add("key_id"); f.add(Long.toString(keyId));
    f.add("route"); f.add(route);
    f.add("model"); f.add(model == null ? "" : model);
    f.add("input_tokens"); f.add(Long.toString(inputTokens));
    f.add("output_tokens"); f.add(Long.toString(outputTokens));
    f.add("credits"); f.add(Long.toString(credits));
    f.add("status"); f.add(Integer.toString(status));
    f.add("latency_ms"); f.add(Long.toString(upstreamLatencyMs));
    f.add("estimated"); f.add(estimated ? "1" : "0");
    f.add("outcome"); f.add(outcome);
    f.add("ts"); f.add(Long.toString(occurredAtMillis));
    f.add(UNIT_FIELD); f.add(UNIT);
    if (action != null) {
      f.add("action"); f.add(action.action());
      f.add("tier"); f.add(action.tier() == null ? "" : action.tier());
      f.add("quantity"); f.add(Long.toString(action.quantity()));
      f.add("allowance_units"); f.add(Long.toString(action.allowanceUnits()));
      if (action.ingestId() != null) {
        f.add("ingest_id"); f.add(action.ingestId());
      }
      if (action.reportedAtMillis() != null) {
        f.add("reported_at"); f.add(Long.toString(action.reportedAtMillis()));
      }
      if (action.properties() != null) {
        f.add("properties"); f.add(action.properties());
      }
    }
    return f;
  }
}
