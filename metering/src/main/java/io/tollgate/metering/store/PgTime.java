package io.tollgate.metering.store;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

/** Instants as Postgres {@code timestamptz} parameters: the reactive client binds {@link OffsetDateTime}, in UTC here. */
public final class PgTime {

  private PgTime() {
  }

  /** {@code t} at UTC, or null for null (a SQL NULL). */
  public static OffsetDateTime utc(Instant t) {
    return t == null ? null : OffsetDateTime.ofInstant(t, ZoneOffset.UTC);
  }
}
