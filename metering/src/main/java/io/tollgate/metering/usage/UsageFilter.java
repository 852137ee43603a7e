package io.tollgate.metering.usage;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;

/** The filters every usage query accepts; {@code from} inclusive, {@code to} exclusive, null filters match all. */
public record UsageFilter(Long accountId, Long keyId, String model, String route, Instant from, Instant to) {

  /** The range widened to whole hours, as hourly rollups count it: a bucket is never half counted. */
  public UsageFilter wholeHours() {
    Instant floor = to.truncatedTo(ChronoUnit.HOURS);
    return new UsageFilter(accountId, keyId, model, route, from.truncatedTo(ChronoUnit.HOURS),
        floor.equals(to) ? to : floor.plus(1, ChronoUnit.HOURS));
  }

  /** SQL conditions on the named columns, with parameters numbered from {@code $1}. */
  String where(String timeColumn, List<Object> params) {
    StringBuilder sql = new StringBuilder();
    params.add(OffsetDateTime.ofInstant(from, ZoneOffset.UTC));
    sql.append(timeColumn).append(" >= $").append(params.size());
    params.add(OffsetDateTime.ofInstant(to, ZoneOffset.UTC));
    sql.append(" AND ").append(timeColumn).append(" < $").append(params.size());
    equal(sql, params, "account_id", accountId);
    equal(sql, params, "key_id", keyId);
    equal(sql, params, "model", model);
    equal(sql, params, "route", route);
    return sql.toString();
  }

  /** {@code AND column = $n} when the filter is given. */
  private static void equal(StringBuilder sql, List<Object> params, String column, Object value) {
    if (value != null) {
      params.add(value);
      sql.append(" AND ").append(column).append(" = $").append(params.size());
    }
  }
}
