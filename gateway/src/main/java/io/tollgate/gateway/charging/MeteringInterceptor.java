package io.tollgate.gateway.charging;

import io.tollgate.gateway.measure.JsonUsageObserver;
import io.tollgate.gateway.measure.SseUsageObserver;
import io.tollgate.gateway.measure.ObservedStream;
import io.tollgate.gateway.measure.UsageObserver;

import io.tollgate.config.PlanConfig;
import io.tollgate.config.RouteConfig;
import io.tollgate.config.UsageFormat;
import io.tollgate.gateway.errors.GatewayFailure;
import io.tollgate.gateway.errors.OpenAiErrors;
import io.tollgate.gateway.proxy.GatewayAnswers;
import io.tollgate.gateway.proxy.ClientAborts;
import io.tollgate.gateway.proxy.RequestIds;
import io.tollgate.metering.admission.AdmissionRequest;
import io.tollgate.config.Credits;
import io.tollgate.metering.admission.CreditPolicy;
import io.tollgate.metering.admission.Decision;
import io.tollgate.metering.admission.Denial;
import io.tollgate.metering.admission.KeySpend;
import io.tollgate.metering.admission.Limits;
import io.tollgate.metering.keys.KeyVerifier.Forbidden;
import io.tollgate.metering.keys.KeyVerifier.Valid;
import io.tollgate.metering.usage.UuidV7;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.streams.ReadStream;
import io.vertx.httpproxy.Body;
import io.vertx.httpproxy.MediaType;
import io.vertx.httpproxy.ProxyContext;
import io.vertx.httpproxy.ProxyInterceptor;
import io.vertx.httpproxy.ProxyRequest;
import io.vertx.httpproxy.ProxyResponse;
import java.util.Optional;

/**
 * The metered part of the hot path: authenticate the key (cache, no Postgres in the steady
 * state), read the AI request, admit it in one Redis round trip, and — once the response has
 * streamed through a usage observer — settle it in a second round trip. Fails closed: when Redis
 * or Postgres cannot be reached the request is refused with 503, never forwarded unmetered.
 */
public final class MeteringInterceptor implements ProxyInterceptor {

  private static final String STATE = "tollgate.meter";
  private static final MediaType JSON = MediaType.parse("application/json");

  private final HotPath m;
  private final Vertx vertx;
  private final RouteConfig route;
  private final long maxBodyBytes;
  private final KeyAuthenticator auth;

  public MeteringInterceptor(HotPath m, Vertx vertx, RouteConfig route, long maxBodyBytes) {
    this.m = m;
    this.auth = new KeyAuthenticator(m.keys(), m.failedAuth(), m.metrics());
    this.vertx = vertx;
    this.route = route;
    this.maxBodyBytes = maxBodyBytes;
  }

  @Override
  public Future<ProxyResponse> handleProxyRequest(ProxyContext context) {
    return auth.authenticate(context.request().proxiedRequest(), route.prefix(), route.feature())
        .compose(valid -> authorize(context, valid),
            // The authenticator counted its refusal: only answered here, so it is not counted twice.
            err -> err instanceof GatewayFailure f ? answer(context, f) : Future.failedFuture(err))
        .recover(err -> refuse(context, err instanceof GatewayFailure f ? f : m.metrics().unavailable("metering failed: " + err.getMessage())));
  }

  /** Reads the request an authenticated key makes and admits it, unless the key's model rules refuse it (403). */
  private Future<ProxyResponse> authorize(ProxyContext context, Valid valid) {
    boolean restricted = m.keys().restrictsModels(valid);
    return readShape(context, restricted).compose(shape -> {
      if (restricted && shape.model() == null && shape.body() != null) {
        return refuse(context, GatewayFailure.badRequest("model_required",
            "'model' is required: this API key or its plan is limited to certain models"));
      }
      Optional<Forbidden> modelRefused = m.keys().checkModel(valid, shape.model());
      return modelRefused.isPresent() ? refuse(context, KeyAuthenticator.forbidden(modelRefused.get())) : admit(context, valid, shape);
    });
  }

  private Future<RequestShape> readShape(ProxyContext context, boolean modelRestricted) {
    ProxyRequest request = context.request();
    Body body = request.getBody();
    boolean hasBody = body != null && (body.length() > 0 || (body.length() < 0 && hasChunkedBody(request.proxiedRequest())));
    if (route.usage() == UsageFormat.NONE || !hasBody || request.getMethod() == HttpMethod.GET) {
      return Future.succeededFuture(RequestShape.none(null));
    }
    // The declared type is not trusted to say a body is not JSON (see ContentTypes): JSON types
    // are parsed; untyped, text/* and form bodies are buffered and parsed when they hold a JSON
    // object (and forwarded as application/json, as priced), else forwarded as they came. Other
    // types (multipart uploads, say) stream through untouched and pay the route's flat cost plus
    // whatever usage the response reports. A body whose model cannot be read is refused under a
    // model restriction.
    String contentType = request.headers().get("content-type");
    ContentTypes.Reading reading = ContentTypes.reading(contentType);
    if (reading == ContentTypes.Reading.STREAM) {
      return modelRestricted ? Future.failedFuture(unreadable(contentType)) : Future.succeededFuture(RequestShape.none(null));
    }
    return BodyReader.read(body.stream(), maxBodyBytes).map(raw -> {
      if (reading == ContentTypes.Reading.SNIFF && !ContentTypes.holdsJsonObject(raw)) {
        if (modelRestricted) {
          throw unreadable(contentType);
        }
        request.setBody(Body.body(raw));
        return RequestShape.none(null);
      }
      RequestShape shape = RequestShape.parse(raw, route.usage(), m.defaultMaxTokens());
      request.setBody(Body.body(shape.body(), JSON));
      return shape;
    });
  }

  private static GatewayFailure unreadable(String contentType) {
    return GatewayFailure.badRequest("model_unreadable", "this API key or its plan is limited to certain models, and the "
        + "model of a " + ContentTypes.shown(contentType) + " body cannot be checked; send the request as application/json");
  }

  private Future<ProxyResponse> admit(ProxyContext context, Valid valid, RequestShape shape) {
    AdmissionRequest request = m.admission().request(valid.grant(), valid.plan(), route.usage() != UsageFormat.NONE,
        shape.model(), shape.inputEstimate(), shape.maxOutput(), shape.estimatedTokens(), route.flatCost());
    long started = System.nanoTime();
    return m.admission().admit(request)
        .recover(err -> Future.failedFuture(err instanceof IllegalArgumentException tooBig
            // A count beyond what the Redis scripts hold exactly (see LuaNumbers): the request, not Redis, is at fault.
            ? GatewayFailure.badRequest("value_out_of_range", tooBig.getMessage())
            : m.metrics().unavailable("the rate limiter (Redis) cannot be reached")))
        .compose(decision -> {
          m.metrics().admitNanos(System.nanoTime() - started);
          HttpServerRequest client = context.request().proxiedRequest();
          RateLimitHeaders.apply(client.response().headers(), decision);
          if (!decision.allowed()) {
            return refuse(context, denied(decision, request));
          }
          m.metrics().decision("allowed", "none");
          context.set(STATE, new MeterState(m, vertx, route, decision.reservation().orElseThrow(), shape,
              client.response().headers().get(RequestIds.HEADER)));
          if (m.abortPolicy().drains()) {
            ClientAborts.keepUpstream(context, m.abortPolicy().drainTimeout());
          }
          return context.sendRequest();
        });
  }

  @Override
  public Future<Void> handleProxyResponse(ProxyContext context) {
    MeterState state = context.get(STATE, MeterState.class);
    ProxyResponse response = context.response();
    if (state == null) {
      // Refused here before forwarding: nothing was reserved.
      boolean close = response.getStatusCode() == 413;
      return context.sendResponse().andThen(v -> {
        if (close) {
          context.request().proxiedRequest().connection().close();
        }
      });
    }
    int status = response.getStatusCode();
    if (response.proxiedResponse() == null) {
      if (ClientAborts.clientGone(context)) {
        // The client hung up before any answer. Forwarded in full, the upstream may have done (and
        // billed) the work we can no longer read: the reservation. Otherwise nothing was asked of it.
        AbortCharge charge = ClientAborts.forwarded(context) ? AbortCharge.RESERVATION : AbortCharge.NOTHING;
        return context.sendResponse().andThen(v -> state.settleAbort(charge));
      }
      // The upstream never answered (the forwarding step turned that into 502/504): refund.
      return context.sendResponse().andThen(v -> state.settle(status, false, false));
    }
    state.upstreamResponded();
    Body body = response.getBody();
    ObservedStream observed = null;
    boolean sseBody = false;
    if (route.usage() != UsageFormat.NONE && body != null && status < 400) {
      String type = body.mediaType() == null ? "" : body.mediaType();
      boolean sse = type.startsWith("text/event-stream");
      UsageObserver observer = sse ? new SseUsageObserver(route.usage(), state.shape().dropUsageChunk())
          : new JsonUsageObserver(route.usage());
      state.observe(observer);
      boolean reshaped = sse && state.shape().dropUsageChunk();
      sseBody = sse;
      if (reshaped) {
        response.headers().remove("content-length");
      }
      observed = new ObservedStream(body.stream(), observer);
      response.setBody(Body.body(observed, reshaped ? -1 : body.length(), body.mediaType()));
    }
    ReadStream<Buffer> answer = observed != null ? observed : body == null ? null : body.stream();
    boolean sse = sseBody;
    if (ClientAborts.clientGone(context)) {
      // Gone before the head: the upstream request was kept (drain), so its answer is read here
      // instead of being sent to nobody.
      return afterAbort(context, state, status, answer, sse, 0);
    }
    ObservedStream streamed = observed;
    return context.sendResponse().andThen(sent -> {
      // A client seen gone caused the failure (an upstream request cancelled for it fails too).
      // Otherwise it is the upstream's doing only if the upstream's own failure failed it: writing
      // to a client that hung up can fail before its connection's close is handled.
      boolean upstreamCut = !ClientAborts.clientGone(context)
          && (streamed == null || (sent.cause() != null && sent.cause() == streamed.failure()));
      if (sent.failed() && !upstreamCut) {
        ClientAborts.judgeAborted(context);
        afterAbort(context, state, status, answer, sse, streamed == null ? 0 : streamed.bytes());
      } else {
        state.settle(status, true, sent.succeeded());
      }
    });
  }

  /**
   * Charges a request whose client hung up after the upstream answered: under {@code drain} the
   * rest of the answer is read within bounds and its usage charged; when it cannot be (or under
   * {@code estimate}), a stream that already delivered bytes pays for what it delivered (estimated),
   * anything else the reservation. An upstream error costs nothing either way.
   */
  private Future<Void> afterAbort(ProxyContext context, MeterState state, int status, ReadStream<Buffer> answer,
                                  boolean sse, long deliveredAtAbort) {
    AbortCharge cut = status >= 400 ? AbortCharge.NOTHING
        : sse && deliveredAtAbort > 0 ? AbortCharge.MEASURED : AbortCharge.RESERVATION;
    if (!m.abortPolicy().drains()) {
      state.settleAbort(cut);
      return Future.succeededFuture();
    }
    if (answer == null) {
      context.response().release();
      state.settleAbort(status >= 400 ? AbortCharge.NOTHING : AbortCharge.MEASURED);
      return Future.succeededFuture();
    }
    long timeout = ClientAborts.remainingMillis(context, m.abortPolicy().drainTimeout());
    AbortDrain.drain(vertx, answer, context.response().proxiedResponse().request(), timeout, m.abortPolicy().drainMaxBytes())
        .onSuccess(complete -> state.settleAbort(complete ? (status >= 400 ? AbortCharge.NOTHING : AbortCharge.MEASURED) : cut));
    return Future.succeededFuture();
  }

  private GatewayFailure denied(Decision d, AdmissionRequest r) {
    Denial denial = d.denial();
    if (denial.isRateLimit()) {
      m.metrics().decision("rate_limited", denial.code());
      String what = switch (denial) {
        case KEY_REQUESTS -> "requests per minute for this key";
        case KEY_TOKENS -> "tokens per minute for this key";
        case ACCOUNT_REQUESTS -> "requests per minute for this account";
        default -> "tokens per minute for this account";
      };
      return new GatewayFailure(429, "rate_limit_error", denial.code(),
          "rate limit reached: " + what + "; retry after " + RateLimitHeaders.duration(d.retryAfterMs()))
          .withHeader("retry-after", RateLimitHeaders.retryAfterSeconds(d.retryAfterMs()));
    }
    if (denial == Denial.CREDITS) {
      m.metrics().decision("no_credits", denial.code());
      return new GatewayFailure(402, "insufficient_quota", denial.code(), "not enough credits: this request may cost up to "
          + Credits.format(r.reserveCredits()) + " credits and the spendable balance is " + Credits.format(Math.max(0, d.balance())));
    }
    if (denial == Denial.KEY_BUDGET) {
      m.metrics().decision("no_credits", denial.code());
      KeySpend budget = r.keySpend();
      return new GatewayFailure(402, "insufficient_quota", denial.code(), "this API key has spent its budget of "
          + io.tollgate.config.Credits.format(budget.budget()) + " credits" + (budget.window().equals("life") ? "" : " for this billing period")
          + ": this request may cost up to " + io.tollgate.config.Credits.format(r.reserveCredits())
          + " credits (the account's other keys are not affected)");
    }
    if (denial == Denial.TOO_LARGE) {
      m.metrics().decision("rate_limited", denial.code());
      return new GatewayFailure(429, "rate_limit_error", denial.code(), "this request may use " + r.estimatedTokens()
          + " tokens, more than a tokens-per-minute limit allows; lower max_tokens");
    }
    return m.metrics().unavailable("the account's balance could not be loaded");
  }

  /**
   * Answers with a refusal made after authentication, counting its decision (the 503s and 429s
   * counted theirs where they were made); authentication's own refusals go to {@link #answer}.
   */
  private Future<ProxyResponse> refuse(ProxyContext context, GatewayFailure failure) {
    if (failure.status() == 403) {
      m.metrics().decision("forbidden", failure.code());
    } else if (failure.status() == 400 || failure.status() == 413) {
      m.metrics().decision("invalid", failure.code());
    }
    return answer(context, failure);
  }

  /** The failure in the OpenAI error envelope, as this request's answer; counts no decision. */
  private Future<ProxyResponse> answer(ProxyContext context, GatewayFailure failure) {
    GatewayAnswers.answered(context, failure);
    ProxyResponse response = context.request().release().response()
        .setStatusCode(failure.status())
        .setBody(Body.body(OpenAiErrors.envelope(failure), JSON));
    failure.headers().forEach(response::putHeader);
    if (failure.status() == 413) {
      response.putHeader("connection", "close");
    }
    return Future.succeededFuture(response);
  }

  private static boolean hasChunkedBody(HttpServerRequest request) {
    String te = request.getHeader("transfer-encoding");
    return te != null && te.toLowerCase(java.util.Locale.ROOT).contains("chunked");
  }

}
