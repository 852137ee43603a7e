package io.tollgate.stripesync;

import com.stripe.StripeClient;
import com.stripe.exception.ApiConnectionException;
import com.stripe.exception.AuthenticationException;
import com.stripe.exception.PermissionException;
import com.stripe.exception.RateLimitException;
import com.stripe.exception.StripeException;
import com.stripe.exception.TemporarySessionExpiredException;
import com.stripe.model.StripeCollection;
import com.stripe.model.billing.MeterEventSummary;
import com.stripe.model.v2.billing.MeterEventSession;
import com.stripe.net.HttpURLConnectionClient;
import com.stripe.net.StripeRequest;
import com.stripe.net.StripeResponse;
import com.stripe.param.billing.MeterEventCreateParams;
import com.stripe.param.billing.MeterEventSummaryListParams;
import com.stripe.param.v2.billing.MeterEventStreamCreateParams;
import io.tollgate.config.Secret;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stripe's meter event endpoints through stripe-java. {@link Mode#V2}: the meter event stream,
 * authenticated by a session token that lives 15 minutes — refreshed a minute before it expires,
 * and at once when Stripe says it expired. {@link Mode#V1}: {@code /v1/billing/meter_events}, one
 * event per call. stripe-java's own retries are off: {@link MeterSync} retries with backoff and a
 * circuit breaker, and honours {@code Retry-After}, which stripe-java does not surface, so a thin
 * subclass of its HTTP client records it.
 */
public final class StripeMeterTransport implements MeterEventTransport {

  private static final Logger log = LoggerFactory.getLogger(StripeMeterTransport.class);
  /** The Retry-After of this thread's last 429 (calls are synchronous, one per worker thread at a time). */
  private static final ThreadLocal<String> RETRY_AFTER = new ThreadLocal<>();
  private static final Duration SESSION_MARGIN = Duration.ofMinutes(1);

  /** Which Stripe API carries the events. */
  public enum Mode { V1, V2 }

  private final Mode mode;
  private final StripeClient client;
  private final URI apiBase;
  private final URI meterEventsBase;
  private final int timeoutMillis;
  private final Clock clock;
  private MeterEventSession session;
  private StripeClient sessionClient;

  public StripeMeterTransport(Mode mode, Secret apiKey, URI apiBase, URI meterEventsBase, Duration timeout, Clock clock) {
    this.mode = mode;
    this.apiBase = apiBase;
    this.meterEventsBase = meterEventsBase;
    this.timeoutMillis = (int) Math.min(Integer.MAX_VALUE, timeout.toMillis());
    this.clock = clock;
    this.client = client(apiKey.reveal());
  }

  private StripeClient client(String key) {
    return StripeClient.builder().setApiKey(key).setApiBase(apiBase.toString()).setMeterEventsBase(meterEventsBase.toString())
        .setMaxNetworkRetries(0).setConnectTimeout(timeoutMillis).setReadTimeout(timeoutMillis)
        .setHttpClient(new RetryAfterRecordingClient()).build();
  }

  @Override
  public int maxBatch() {
    return mode == Mode.V2 ? 100 : 1;
  }

  @Override
  public void send(List<MeterEvent> events) throws SendFailure {
    if (mode == Mode.V2) {
      sendStream(events);
    } else {
      for (MeterEvent e : events) {
        sendOne(e);
      }
    }
  }

  private void sendStream(List<MeterEvent> events) throws SendFailure {
    MeterEventStreamCreateParams.Builder params = MeterEventStreamCreateParams.builder();
    for (MeterEvent e : events) {
      params.addEvent(MeterEventStreamCreateParams.Event.builder().setEventName(e.eventName()).setIdentifier(e.identifier())
          .putPayload("stripe_customer_id", e.customerId()).putPayload("value", Long.toString(e.value()))
          .setTimestamp(e.timestamp()).build());
    }
    StripeClient streamClient = sessionClient();
    try {
      streamClient.v2().billing().meterEventStream().create(params.build());
    } catch (TemporarySessionExpiredException e) {
      synchronized (this) {
        session = null;
      }
      throw new SendFailure(SendFailure.Kind.SESSION_EXPIRED, "Stripe meter event session expired", e.getStatusCode(),
          Optional.empty(), null);
    } catch (StripeException e) {
      throw classify("meter event stream", e);
    }
  }

  private synchronized StripeClient sessionClient() throws SendFailure {
    Instant now = clock.instant();
    if (session == null || session.getExpiresAt() == null || !session.getExpiresAt().minus(SESSION_MARGIN).isAfter(now)) {
      try {
        session = client.v2().billing().meterEventSession().create();
      } catch (StripeException e) {
        throw classify("meter event session", e);
      }
      sessionClient = client(session.getAuthenticationToken());
      log.debug("new Stripe meter event session, valid until {}", session.getExpiresAt());
    }
    return sessionClient;
  }

  private void sendOne(MeterEvent e) throws SendFailure {
    MeterEventCreateParams params = MeterEventCreateParams.builder().setEventName(e.eventName()).setIdentifier(e.identifier())
        .putPayload("stripe_customer_id", e.customerId()).putPayload("value", Long.toString(e.value()))
        .setTimestamp(e.timestamp().getEpochSecond()).build();
    try {
      client.billing().meterEvents().create(params);
    } catch (StripeException ex) {
      if (isDuplicate(ex)) {
        // Stripe already holds this identifier: an earlier attempt landed. That is the goal.
        return;
      }
      throw classify("meter event", ex);
    }
  }

  private static boolean isDuplicate(StripeException e) {
    Integer status = e.getStatusCode();
    String code = e.getCode();
    return status != null && status == 400 && ("resource_already_exists".equals(code)
        || (e.getStripeError() != null && e.getStripeError().getMessage() != null
            && e.getStripeError().getMessage().contains("identifier") && e.getStripeError().getMessage().contains("already")));
  }

  @Override
  public List<DayTotal> dailyTotals(String meterId, String customerId, Instant start, Instant end) throws SendFailure {
    List<DayTotal> out = new ArrayList<>();
    String after = null;
    try {
      do {
        MeterEventSummaryListParams.Builder params = MeterEventSummaryListParams.builder().setCustomer(customerId)
            .setStartTime(start.getEpochSecond()).setEndTime(end.getEpochSecond()).setLimit(100L)
            .setValueGroupingWindow(MeterEventSummaryListParams.ValueGroupingWindow.DAY);
        if (after != null) {
          params.setStartingAfter(after);
        }
        StripeCollection<MeterEventSummary> page = client.billing().meters().eventSummaries().list(meterId, params.build());
        for (MeterEventSummary s : page.getData()) {
          out.add(new DayTotal(Instant.ofEpochSecond(s.getStartTime()), s.getAggregatedValue().longValueExact()));
          after = s.getId();
        }
        if (!Boolean.TRUE.equals(page.getHasMore()) || page.getData().isEmpty()) {
          after = null;
        }
      } while (after != null);
    } catch (StripeException e) {
      throw classify("meter event summaries", e);
    } catch (ArithmeticException e) {
      throw new SendFailure(SendFailure.Kind.PERMANENT, "Stripe reported a fractional meter value for " + customerId, null,
          Optional.empty(), e);
    }
    return out;
  }

  private static SendFailure classify(String call, StripeException e) {
    Integer status = e.getStatusCode();
    String what = "Stripe " + call + " failed" + (status == null ? "" : ": HTTP " + status)
        + (e.getCode() == null ? "" : " " + e.getCode())
        + (e.getStripeError() != null && e.getStripeError().getMessage() != null ? ": " + e.getStripeError().getMessage() : "");
    if (e instanceof RateLimitException || (status != null && status == 429)) {
      return new SendFailure(SendFailure.Kind.RATE_LIMITED, what, status, retryAfter(), e);
    }
    if (e instanceof ApiConnectionException) {
      return new SendFailure(SendFailure.Kind.TRANSIENT, "Stripe " + call + " failed: " + e.getClass().getSimpleName()
          + (e.getCause() == null ? "" : " (" + e.getCause().getClass().getSimpleName() + ")"), null, Optional.empty(), e);
    }
    if (status == null || status >= 500 || status == 409 || e instanceof AuthenticationException || e instanceof PermissionException) {
      // Also 401/403: a configuration problem is not the events' fault; keep them and let the breaker open.
      return new SendFailure(SendFailure.Kind.TRANSIENT, what, status, Optional.empty(), e);
    }
    return new SendFailure(SendFailure.Kind.PERMANENT, what, status, Optional.empty(), e);
  }

  private static Optional<Duration> retryAfter() {
    String raw = RETRY_AFTER.get();
    RETRY_AFTER.remove();
    if (raw == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(Duration.ofMillis((long) (Double.parseDouble(raw.trim()) * 1000)));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** stripe-java's HTTP client, recording the Retry-After of a 429 for this thread. */
  private static final class RetryAfterRecordingClient extends HttpURLConnectionClient {
    @Override
    public StripeResponse request(StripeRequest request) throws ApiConnectionException {
      StripeResponse response = super.request(request);
      if (response.code() == 429) {
        RETRY_AFTER.set(response.headers().firstValue("retry-after").orElse(null));
      }
      return response;
    }
  }
}
