package io.tollgate.stripesync;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.core.functions.Either;
import io.github.resilience4j.retry.Retry;
import io.github.resilience4j.retry.RetryConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Usage → Stripe, exactly once per credit: each pass cuts unclaimed usage into the outbox, then
 * sends what is due, {@link MeterEventTransport#maxBatch()} events per call.
 *
 * <ul>
 *   <li><b>Retries</b> (resilience4j): 429 waits for {@code Retry-After} (else backoff); 5xx,
 *       timeouts and connection errors back off exponentially with jitter; an expired v2 session
 *       is refreshed and retried at once. Retrying sends the same identifiers, so Stripe drops
 *       what an earlier attempt already delivered.</li>
 *   <li><b>Circuit breaker</b>: when most recent calls failed, calls stop for a while and then one
 *       probe goes through; the items wait in the outbox meanwhile.</li>
 *   <li><b>Permanent errors</b> (unknown customer, bad timestamp, no such meter): a multi-event
 *       call is split in halves until the bad item is alone; it goes to the dead-letter state with
 *       Stripe's error, and the rest go through.</li>
 *   <li><b>Stripe's windows</b>: an item whose timestamp is older than 35 days is dead-lettered
 *       unsent (Stripe would refuse it); an item already attempted and still unsent after
 *       {@link Settings#dedupWindow()} is dead-lettered instead of resent, because Stripe may no
 *       longer recognise its identifier — an admin checks Stripe and retries it.</li>
 * </ul>
 */
public final class MeterSync {

  private static final Logger log = LoggerFactory.getLogger(MeterSync.class);
  /** Stripe refuses meter events with a timestamp more than 35 days in the past. */
  static final Duration STRIPE_PAST_LIMIT = Duration.ofDays(35);

  /**
   * Timings; {@link #defaults()} for production.
   *
   * @param attempts      calls per chunk and pass, the first included
   * @param backoff       first retry wait; doubled per attempt, with ±50 % jitter
   * @param maxBackoff    cap on one wait (also on Retry-After)
   * @param breakerOpen   how long the breaker stays open before one probe call
   * @param lease         how long a leased item is hidden from other senders
   * @param dedupWindow   how long Stripe is relied on to remember an identifier
   * @param leaseSize     items leased per round
   */
  public record Settings(int attempts, Duration backoff, Duration maxBackoff, Duration breakerOpen, Duration lease,
                         Duration dedupWindow, int leaseSize) {

    public static Settings defaults() {
      return new Settings(5, Duration.ofMillis(500), Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofMinutes(5),
          Duration.ofHours(23), 1_000);
    }
  }

  /** What one pass did. */
  public record Pass(int cut, int sent, int dead, int deferred) {
  }

  private final Vertx vertx;
  private final MeterOutbox outbox;
  private final MeterEventTransport transport;
  private final String eventName;
  private final Clock clock;
  private final Settings settings;
  private final CircuitBreaker breaker;
  private final Retry retry;
  private final AtomicBoolean running = new AtomicBoolean();
  private final Counter sentEvents;
  private final Counter retries;
  private final Counter dead;
  private final ConcurrentHashMap<String, Counter> failures = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Counter> batches = new ConcurrentHashMap<>();
  private final Timer sendLatency;
  private final MeterRegistry registry;
  private final AtomicReference<MeterOutbox.Stats> stats = new AtomicReference<>(new MeterOutbox.Stats(0, 0, 0, 0));

  public MeterSync(Vertx vertx, MeterOutbox outbox, MeterEventTransport transport, String eventName, Clock clock, Settings settings,
                   MeterRegistry registry) {
    this.vertx = vertx;
    this.outbox = outbox;
    this.transport = transport;
    this.eventName = eventName;
    this.clock = clock;
    this.settings = settings;
    this.registry = registry;
    this.breaker = CircuitBreaker.of("stripe", CircuitBreakerConfig.custom()
        .slidingWindowSize(10).minimumNumberOfCalls(4).failureRateThreshold(50)
        .waitDurationInOpenState(settings.breakerOpen()).permittedNumberOfCallsInHalfOpenState(1)
        // Only Stripe being unwell opens it; a bad item is not Stripe's fault.
        .recordException(e -> e instanceof SendFailure f && f.kind() == SendFailure.Kind.TRANSIENT)
        .build());
    this.retry = Retry.of("stripe", RetryConfig.custom()
        .maxAttempts(settings.attempts())
        .retryOnException(e -> e instanceof SendFailure f && f.kind() != SendFailure.Kind.PERMANENT)
        .intervalBiFunction(this::wait)
        .build());
    this.sentEvents = Counter.builder("tollgate_stripe_meter_events_sent").description("Meter events Stripe accepted").register(registry);
    this.retries = Counter.builder("tollgate_stripe_retries").description("Stripe calls retried").register(registry);
    this.dead = Counter.builder("tollgate_stripe_dead_lettered").description("Outbox items moved to the dead-letter state").register(registry);
    this.sendLatency = Timer.builder("tollgate_stripe_call_duration").tag("operation", "send_meter_events")
        .description("Stripe calls, each attempt").publishPercentileHistogram().register(registry);
    this.retry.getEventPublisher().onRetry(e -> {
      retries.increment();
      log.info("retrying a Stripe call (attempt {}) after {}: {}", e.getNumberOfRetryAttempts() + 1, e.getWaitInterval(),
          e.getLastThrowable() == null ? "" : e.getLastThrowable().getMessage());
    });
    Gauge.builder("tollgate_stripe_breaker_state", breaker, b -> switch (b.getState()) {
      case CLOSED -> 0;
      case OPEN, FORCED_OPEN -> 1;
      case HALF_OPEN -> 2;
      default -> 3;
    }).description("Stripe circuit breaker: 0 closed, 1 open, 2 half-open").register(registry);
    Gauge.builder("tollgate_stripe_dead_letters", stats, s -> s.get().dead())
        .description("Outbox items in the dead-letter state (all instances)").register(registry);
    Gauge.builder("tollgate_stripe_outbox_pending", stats, s -> s.get().pending())
        .description("Outbox items waiting to be sent (all instances)").register(registry);
    Gauge.builder("tollgate_stripe_sync_lag", stats, s -> s.get().oldestPendingSeconds()).baseUnit("seconds")
        .description("Age of the oldest unsent outbox item").register(registry);
    Gauge.builder("tollgate_stripe_unlinked_accounts", stats, s -> s.get().unlinkedAccounts())
        .description("Postpaid/hybrid accounts with usage waiting for a Stripe customer").register(registry);
  }

  private Long wait(Integer attempt, Either<Throwable, Object> outcome) {
    Throwable error = outcome.isLeft() ? outcome.getLeft() : null;
    if (error instanceof SendFailure f) {
      if (f.kind() == SendFailure.Kind.SESSION_EXPIRED) {
        return 0L;
      }
      if (f.retryAfter().isPresent()) {
        return Math.min(settings.maxBackoff().toMillis(), f.retryAfter().get().toMillis());
      }
    }
    long base = settings.backoff().toMillis() << Math.min(20, Math.max(0, attempt - 1));
    long jittered = (long) (base * (0.5 + ThreadLocalRandom.current().nextDouble()));
    return Math.min(settings.maxBackoff().toMillis(), Math.max(1, jittered));
  }

  public CircuitBreaker.State breakerState() {
    return breaker.getState();
  }

  /** Cuts and sends until nothing is due; one pass at a time per instance. */
  public Future<Pass> runOnce() {
    if (!running.compareAndSet(false, true)) {
      return Future.succeededFuture(new Pass(0, 0, 0, 0));
    }
    return outbox.cut(eventName, clock.instant())
        .compose(cut -> sendDue(new Pass(cut, 0, 0, 0)))
        .compose(pass -> refreshStats().map(pass))
        .onComplete(ar -> running.set(false));
  }

  /** Refreshes the gauges from the outbox (shared by all instances). */
  public Future<MeterOutbox.Stats> refreshStats() {
    return outbox.stats().onSuccess(stats::set);
  }

  private Future<Pass> sendDue(Pass soFar) {
    return outbox.lease(settings.leaseSize(), settings.lease()).compose(items -> {
      if (items.isEmpty()) {
        return Future.succeededFuture(soFar);
      }
      List<MeterOutbox.Item> sendable = new ArrayList<>();
      Future<Integer> expired = Future.succeededFuture(0);
      Instant now = clock.instant();
      for (MeterOutbox.Item item : items) {
        String reason = null;
        if (item.event().timestamp().isBefore(now.minus(STRIPE_PAST_LIMIT))) {
          reason = "timestamp " + item.event().timestamp() + " is more than 35 days old: Stripe refuses it";
        } else if (item.attempts() > 1 && item.createdAt().isBefore(now.minus(settings.dedupWindow()))) {
          reason = "still unsent " + Duration.between(item.createdAt(), now).toHours() + " h after an earlier attempt: Stripe may "
              + "no longer recognise identifier " + item.event().identifier() + "; check Stripe before retrying it";
        }
        if (reason == null) {
          sendable.add(item);
        } else {
          String why = reason;
          expired = expired.compose(n -> deadLetter(item, why).map(n + 1));
        }
      }
      return expired.compose(deadCount -> sendChunks(sendable, 0, new Pass(soFar.cut(), soFar.sent(), soFar.dead() + deadCount,
          soFar.deferred())));
    });
  }

  /** Sends the items in chunks; on a failure that retries could not fix, defers the rest and ends the pass. */
  private Future<Pass> sendChunks(List<MeterOutbox.Item> items, int from, Pass soFar) {
    if (from >= items.size()) {
      return sendDue(soFar);
    }
    int to = Math.min(items.size(), from + transport.maxBatch());
    List<MeterOutbox.Item> chunk = items.subList(from, to);
    return send(chunk).compose(done -> {
      Pass pass = new Pass(soFar.cut(), soFar.sent() + done.sent(), soFar.dead() + done.dead(), soFar.deferred());
      return sendChunks(items, to, pass);
    }, err -> {
      // Stripe is unwell (retries exhausted, or the breaker is open): everything left waits.
      List<MeterOutbox.Item> rest = items.subList(from, items.size());
      String reason = err instanceof CallNotPermittedException ? "circuit breaker open: Stripe calls paused" : err.getMessage();
      countBatch("deferred");
      return outbox.later(ids(rest), reason, settings.breakerOpen())
          .map(v -> new Pass(soFar.cut(), soFar.sent(), soFar.dead(), soFar.deferred() + rest.size()));
    });
  }

  /** One chunk: sent, or split around a permanent error. Fails only for errors that are not the items' fault. */
  private Future<Pass> send(List<MeterOutbox.Item> chunk) {
    List<MeterEvent> events = new ArrayList<>(chunk.size());
    chunk.forEach(i -> events.add(i.event()));
    return vertx.<Void>executeBlocking(() -> {
      try {
        retry.executeCheckedSupplier(() -> breaker.executeCheckedSupplier(() -> {
        long started = System.nanoTime();
        try {
          transport.send(events);
          log.info("stripe send_meter_events events={} status=ok latencyMs={}", events.size(),
              TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
          return null;
        } catch (SendFailure f) {
          failures.computeIfAbsent(f.reason(), r -> Counter.builder("tollgate_stripe_failures")
              .description("Failed Stripe calls by reason").tag("reason", r).register(registry)).increment();
          log.info("stripe send_meter_events events={} status=failed reason={} latencyMs={}: {}", events.size(), f.reason(),
              TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), f.getMessage());
          throw f;
        } finally {
          sendLatency.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
        }
      }));
      } catch (Exception e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException(t);
      }
      return null;
    }, false).compose(v -> {
      sentEvents.increment(events.size());
      countBatch("sent");
      return outbox.sent(ids(chunk)).map(new Pass(0, chunk.size(), 0, 0));
    }, err -> {
      if (err instanceof SendFailure f && f.kind() == SendFailure.Kind.PERMANENT) {
        if (chunk.size() == 1) {
          return deadLetter(chunk.get(0), f.getMessage()).map(new Pass(0, 0, 1, 0));
        }
        // Find the bad item(s): the halves go separately; Stripe drops any identifier it already took.
        int half = chunk.size() / 2;
        return send(chunk.subList(0, half)).compose(a -> send(chunk.subList(half, chunk.size()))
            .map(b -> new Pass(0, a.sent() + b.sent(), a.dead() + b.dead(), 0)));
      }
      return Future.failedFuture(err);
    });
  }

  private Future<Void> deadLetter(MeterOutbox.Item item, String reason) {
    dead.increment();
    log.warn("Stripe outbox item {} ({} credits for {}) dead-lettered: {}", item.id(), item.event().value(),
        item.event().customerId(), reason);
    return outbox.dead(item.id(), reason);
  }

  private void countBatch(String outcome) {
    batches.computeIfAbsent(outcome, o -> Counter.builder("tollgate_stripe_batches")
        .description("Calls to Stripe's meter event endpoints by outcome").tag("outcome", o).register(registry)).increment();
  }

  private static List<Long> ids(List<MeterOutbox.Item> items) {
    List<Long> ids = new ArrayList<>(items.size());
    items.forEach(i -> ids.add(i.id()));
    return ids;
  }
}
