package io.tollgate.stripesync;

import java.time.Instant;
import java.util.List;

/**
 * The calls Tollgate makes to Stripe for metering, behind our own types so that stripe-java's
 * never leak out of this module. Methods block (stripe-java is synchronous): callers run them on
 * worker threads.
 */
public interface MeterEventTransport {

  /** Largest number of events one {@link #send} call may carry. */
  int maxBatch();

  /** Sends events; throws naming what failed. A duplicate identifier Stripe already holds is success. */
  void send(List<MeterEvent> events) throws SendFailure;

  /** Stripe's per-day totals of a meter for one customer, [start, end) on whole UTC days. */
  List<DayTotal> dailyTotals(String meterId, String customerId, Instant start, Instant end) throws SendFailure;

  /** One day's aggregated value as Stripe reports it. */
  record DayTotal(Instant dayStart, long value) {
  }
}
