package io.tollgate.metering.usage;

import io.tollgate.config.Credits;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Usage events as Postgres receives them: one statement that inserts a whole batch exactly once
 * and adds it to the hourly rollups (in primary-key order, so concurrent consumers lock rollup rows
 * in the same order and cannot deadlock). Being one statement, it is atomic; the {@code usage_event_ids}
 * guard makes a re-delivered event (a consumer died before XACK) a no-op, rollups included.
 */
public final class UsageRows {

  static final String INSERT_BATCH = """
      WITH input AS (
        SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                             $8::bigint[], $9::int[], $10::int[], $11::bool[], $12::timestamptz[], $13::text[], $14::bigint[],
                             $15::text[], $16::text[], $17::bigint[], $18::bigint[], $19::text[], $20::timestamptz[], $21::text[])
          AS t(event_id, account_id, key_id, route, model, input_tokens, output_tokens, credits, status, latency, estimated, occurred_at,
               outcome, overage_credits, action, tier, quantity, allowance_units, ingest_id, reported_at, properties)
      ), fresh AS (
        INSERT INTO usage_event_ids (event_id, occurred_at) SELECT event_id, occurred_at FROM input
        ON CONFLICT (event_id) DO NOTHING RETURNING event_id
      ), inserted AS (
        INSERT INTO usage_events (event_id, account_id, key_id, route, model, input_tokens, output_tokens, credits, status,
                                  upstream_latency_ms, estimated, occurred_at, outcome, overage_credits, action, tier, quantity,
                                  allowance_units, ingest_id, reported_at, properties)
        SELECT i.event_id, i.account_id, i.key_id, i.route, i.model, i.input_tokens, i.output_tokens, i.credits, i.status,
               i.latency, i.estimated, i.occurred_at, i.outcome, i.overage_credits, i.action, i.tier, i.quantity,
               coalesce(i.allowance_units, 0), i.ingest_id, i.reported_at, i.properties::jsonb
        FROM input i JOIN fresh f USING (event_id)
        RETURNING account_id, key_id, route, model, occurred_at, input_tokens, output_tokens, credits, action, tier, quantity,
                  allowance_units
      ), rolled AS (
        INSERT INTO usage_rollups_hourly AS r (account_id, key_id, route, model, action, tier, hour, requests, input_tokens,
                                               output_tokens, credits, quantity, allowance_units)
        SELECT account_id, coalesce(key_id, 0), route, coalesce(model, ''), coalesce(action, ''), coalesce(tier, ''),
               date_trunc('hour', occurred_at), count(*), sum(input_tokens), sum(output_tokens), sum(credits),
               coalesce(sum(quantity), 0), sum(allowance_units)
        FROM inserted GROUP BY 1, 2, 3, 4, 5, 6, 7
        -- One lock order for every writer: concurrent batches touching the same rollup rows in
        -- different orders deadlocked under load (found by the pipeline benchmark).
        ORDER BY 1, 7, 2, 3, 4, 5, 6
        ON CONFLICT (account_id, hour, key_id, route, model, action, tier) DO UPDATE SET
          requests = r.requests + excluded.requests, input_tokens = r.input_tokens + excluded.input_tokens,
          output_tokens = r.output_tokens + excluded.output_tokens, credits = r.credits + excluded.credits,
          quantity = r.quantity + excluded.quantity, allowance_units = r.allowance_units + excluded.allowance_units
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM inserted) AS inserted, (SELECT count(*) FROM rolled) AS rollups
      """;

  private UsageRows() {
  }

  /** Parses one stream entry's fields; throws IllegalArgumentException naming what is wrong. */
  public static UsageEvent parse(Map<String, String> f) {
    try {
      UUID eventId;
      try {
        eventId = UUID.fromString(required(f, "event_id"));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(e.getMessage().startsWith("missing") ? e.getMessage() : "event_id is not a UUID");
      }
      String unit = f.get(UsageEvent.UNIT_FIELD);
      if (unit != null && !unit.equals(UsageEvent.UNIT)) {
        throw new IllegalArgumentException("unit is " + unit + ", expected " + UsageEvent.UNIT);
      }
      // Without a unit the entry was written before millicredits (a stream not yet drained at the
      // upgrade): its credits are whole credits, converted exactly here.
      long perCredit = unit == null ? Credits.UNITS_PER_CREDIT : 1;
      return new UsageEvent(eventId, Long.parseLong(required(f, "account_id")),
          Long.parseLong(required(f, "key_id")), required(f, "route"), f.getOrDefault("model", ""),
          Long.parseLong(required(f, "input_tokens")), Long.parseLong(required(f, "output_tokens")),
          Math.multiplyExact(Long.parseLong(required(f, "credits")), perCredit), Integer.parseInt(required(f, "status")),
          Long.parseLong(f.getOrDefault("latency_ms", "-1")), "1".equals(f.get("estimated")),
          f.getOrDefault("outcome", "ok"), Long.parseLong(required(f, "ts")),
          Math.multiplyExact(Long.parseLong(f.getOrDefault("overage", "0")), perCredit), actionUsage(f));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("a numeric field is not a number: " + e.getMessage());
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("credits are beyond a 64-bit number of units");
    }
  }

  /** A billable action's fields, or null for a proxied request's entry (it has no {@code action}). */
  private static UsageEvent.ActionUsage actionUsage(Map<String, String> f) {
    String action = f.get("action");
    if (action == null || action.isEmpty()) {
      return null;
    }
    String tier = f.get("tier");
    String reported = f.get("reported_at");
    String properties = f.get("properties");
    if (properties != null) {
      try {
        new io.vertx.core.json.JsonObject(properties);
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("properties is not a JSON object");
      }
    }
    return new UsageEvent.ActionUsage(action, tier == null || tier.isEmpty() ? null : tier, Long.parseLong(required(f, "quantity")),
        Long.parseLong(f.getOrDefault("allowance_units", "0")), f.get("ingest_id"), reported == null ? null : Long.parseLong(reported),
        properties);
  }

  private static String required(Map<String, String> f, String name) {
    String v = f.get(name);
    if (v == null || v.isEmpty()) {
      throw new IllegalArgumentException("missing field " + name);
    }
    return v;
  }

  static Tuple batch(List<UsageEvent> events) {
    int n = events.size();
    UUID[] ids = new UUID[n];
    Long[] accounts = new Long[n];
    Long[] keys = new Long[n];
    String[] routes = new String[n];
    String[] models = new String[n];
    Long[] input = new Long[n];
    Long[] output = new Long[n];
    Long[] credits = new Long[n];
    Integer[] status = new Integer[n];
    Integer[] latency = new Integer[n];
    Boolean[] estimated = new Boolean[n];
    OffsetDateTime[] at = new OffsetDateTime[n];
    String[] outcomes = new String[n];
    Long[] overage = new Long[n];
    String[] actions = new String[n];
    String[] tiers = new String[n];
    Long[] quantities = new Long[n];
    Long[] allowanceUnits = new Long[n];
    String[] ingestIds = new String[n];
    OffsetDateTime[] reportedAt = new OffsetDateTime[n];
    String[] properties = new String[n];
    for (int i = 0; i < n; i++) {
      UsageEvent e = events.get(i);
      ids[i] = e.eventId();
      accounts[i] = e.accountId();
      keys[i] = e.keyId() == 0 ? null : e.keyId();
      routes[i] = e.route();
      models[i] = e.model() == null || e.model().isEmpty() ? null : e.model();
      input[i] = e.inputTokens();
      output[i] = e.outputTokens();
      credits[i] = e.credits();
      status[i] = e.status();
      latency[i] = (int) Math.min(Integer.MAX_VALUE, e.upstreamLatencyMs());
      estimated[i] = e.estimated();
      at[i] = OffsetDateTime.ofInstant(Instant.ofEpochMilli(e.occurredAtMillis()), ZoneOffset.UTC);
      outcomes[i] = e.outcome() == null || e.outcome().isEmpty() ? "ok" : e.outcome();
      overage[i] = e.overageCredits();
      UsageEvent.ActionUsage a = e.action();
      if (a != null) {
        actions[i] = a.action();
        tiers[i] = a.tier();
        quantities[i] = a.quantity();
        allowanceUnits[i] = a.allowanceUnits();
        ingestIds[i] = a.ingestId();
        reportedAt[i] = a.reportedAtMillis() == null ? null
            : OffsetDateTime.ofInstant(Instant.ofEpochMilli(a.reportedAtMillis()), ZoneOffset.UTC);
        properties[i] = a.properties();
      }
    }
    return Tuple.tuple().addValue(ids).addValue(accounts).addValue(keys).addValue(routes).addValue(models).addValue(input)
        .addValue(output).addValue(credits).addValue(status).addValue(latency).addValue(estimated).addValue(at)
        .addValue(outcomes).addValue(overage).addValue(actions).addValue(tiers).addValue(quantities).addValue(allowanceUnits)
        .addValue(ingestIds).addValue(reportedAt).addValue(properties);
  }
}
