package io.tollgate.metering.usage;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * One metered request, as appended to the usage stream by the settle script. {@code outcome} is
 * {@code ok}, {@code upstream_error}, {@code client_abort} or {@code gateway_error}.
 */
public record UsageEvent(UUID eventId, long accountId, long keyId, String route, String model, long inputTokens,
                         long outputTokens, long credits, int status, long upstreamLatencyMs, boolean estimated,
                         String outcome, long occurredAtMillis) {

  /** Field/value pairs for XADD, in a fixed order. */
  public List<String> toStreamFields() {
    List<String> f = new ArrayList<>(26);
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
    return f;
  }
}
