package io.tollgate.gateway.ingest;

import io.tollgate.config.Credits;
import io.tollgate.gateway.charging.HotPath;
import io.tollgate.gateway.charging.KeyAuthenticator;
import io.tollgate.gateway.errors.GatewayFailure;
import io.tollgate.gateway.ops.Problems;
import io.tollgate.metering.actions.ActionIngest;
import io.tollgate.metering.actions.ActionIngest.Accepted;
import io.tollgate.metering.actions.ActionIngest.Duplicate;
import io.tollgate.metering.actions.ActionIngest.Outcome;
import io.tollgate.metering.actions.ActionIngest.Refused;
import io.tollgate.metering.admission.Reservation;
import io.tollgate.metering.keys.KeyVerifier.Valid;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BiFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ingest API on the public port ({@code /tollgate/v1/}), authenticated with the account's
 * API key like the proxy (the key's scopes apply: {@code routes} must allow {@code /tollgate/v1/}
 * if the key lists routes, {@code actions} the action reported). Parses, calls
 * {@link ActionIngest}, renders; errors are problem+json. Credits are shown as exact decimals
 * ({@link Credits}) through {@link #credits}.
 */
public final class IngestApi {

  public static final String PREFIX = "/tollgate/v1/";
  private static final Logger log = LoggerFactory.getLogger(IngestApi.class);
  private static final String GRANT = "tollgate.grant";
  /** A batch of 100 events with 4 KiB of properties each, and room to spare. */
  private static final long MAX_BODY_BYTES = 1024 * 1024;

  private final ActionIngest ingest;
  private final KeyAuthenticator auth;
  private final Router router;

  public IngestApi(Vertx vertx, HotPath m, ActionIngest ingest) {
    this.auth = new KeyAuthenticator(m.keys(), m.failedAuth(), m.metrics());
    this.ingest = ingest;
    this.router = Router.router(vertx);
    router.route(PREFIX + "*").handler(BodyHandler.create().setBodyLimit(MAX_BODY_BYTES));
    router.route(PREFIX + "*").handler(this::authenticate);
    router.post(PREFIX + "events").handler(ctx -> answer(ctx, this::events));
    router.post(PREFIX + "reservations").handler(ctx -> answer(ctx, this::reserve));
    router.post(PREFIX + "reservations/:id/commit").handler(ctx -> answer(ctx, this::commit));
    router.post(PREFIX + "reservations/:id/cancel").handler(ctx -> answer(ctx, this::cancel));
    router.get(PREFIX + "balance").handler(ctx -> answer(ctx, this::balance));
    router.route(PREFIX + "*").handler(ctx -> send(ctx, new Failure(404, "not_found",
        "no ingest endpoint " + ctx.request().method() + " " + abbreviate(ctx.request().path())
            + " (POST events, POST reservations, POST reservations/{id}/commit|cancel, GET balance)")));
    router.errorHandler(413, ctx -> send(ctx, new Failure(413, "request_too_large", "the body exceeds " + MAX_BODY_BYTES + " bytes")));
  }

  /** Whether a path on the public port belongs to this API rather than to a proxy route. */
  public static boolean owns(String path) {
    return path != null && (path.startsWith(PREFIX) || path.equals("/tollgate/v1"));
  }

  public void handle(HttpServerRequest request) {
    router.handle(request);
  }

  /** A handler's reply: status and JSON body (the body of a problem for status >= 400). */
  private record Reply(int status, JsonObject body) {
  }

  /** A refusal as a problem: status, code, message, headers. */
  private static final class Failure extends RuntimeException {
    final int status;
    final String code;
    final String retryAfter;
    final JsonObject extra;

    Failure(int status, String code, String message, String retryAfter, JsonObject extra) {
      super(message, null, false, false);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
      this.extra = extra;
    }

    Failure(int status, String code, String message) {
      this(status, code, message, null, null);
    }
  }

  // ---- authentication: the proxy's (KeyAuthenticator), problem+json answers

  private void authenticate(RoutingContext ctx) {
    auth.authenticate(ctx.request(), PREFIX, Optional.empty()).onComplete(ar -> {
      if (ar.succeeded()) {
        ctx.put(GRANT, ar.result());
        ctx.next();
      } else if (ar.cause() instanceof GatewayFailure f) {
        // Counted by the authenticator; its headers (www-authenticate, retry-after) go out as they are.
        f.headers().forEach(ctx.response()::putHeader);
        send(ctx, new Failure(f.status(), f.code(), f.getMessage()));
      } else {
        log.warn("ingest: authentication failed: {}", ar.cause().toString());
        send(ctx, new Failure(503, "metering_unavailable", "metering is unavailable; nothing was charged, try again shortly", "1", null));
      }
    });
  }

  // ---- handlers

  /** POST /tollgate/v1/events: one event (answered with its outcome's status) or a batch (200, per event). */
  private Future<Reply> events(RoutingContext ctx, Valid key) {
    IngestEvents.Parsed parsed;
    try {
      parsed = IngestEvents.parse(body(ctx, true));
    } catch (IngestEvents.BadEvent e) {
      throw new Failure(400, "invalid_event", e.getMessage());
    }
    List<Future<Outcome>> outcomes = new ArrayList<>();
    for (ActionIngest.Event e : parsed.events()) {
      outcomes.add(ingest.report(key.grant(), key.plan(), e).recover(err -> Future.succeededFuture(unavailable(err))));
    }
    return Future.all(outcomes).map(all -> {
      if (!parsed.batch()) {
        Outcome o = outcomes.get(0).result();
        if (o instanceof Refused r) {
          throw refusal(r, new JsonObject().put("id", parsed.events().get(0).id()));
        }
        return new Reply(200, outcome(parsed.events().get(0), o));
      }
      JsonArray data = new JsonArray();
      long accepted = 0;
      long duplicates = 0;
      long refused = 0;
      for (int i = 0; i < outcomes.size(); i++) {
        Outcome o = outcomes.get(i).result();
        data.add(outcome(parsed.events().get(i), o).put("index", i));
        if (o instanceof Accepted) {
          accepted++;
        } else if (o instanceof Duplicate) {
          duplicates++;
        } else {
          refused++;
        }
      }
      return new Reply(200, new JsonObject().put("accepted", accepted).put("duplicates", duplicates).put("refused", refused)
          .put("data", data));
    });
  }

  /** POST /tollgate/v1/reservations {action, quantity?}: 201 with what it holds, or 402/429 before the work. */
  private Future<Reply> reserve(RoutingContext ctx, Valid key) {
    JsonObject b = object(body(ctx, true));
    Object action = b.getValue("action");
    if (!(action instanceof String name) || !io.tollgate.config.ActionCatalog.ACTION_NAME.matcher(name).matches()) {
      throw new Failure(400, "invalid_request", "action is required: an action name (1-64 letters, digits, '_', '-', '.')");
    }
    long quantity = quantity(b);
    return ingest.reserve(key.grant(), key.plan(), name, quantity).map(outcome -> {
      if (outcome.refused().isPresent()) {
        throw refusal(outcome.refused().get(), null);
      }
      ActionIngest.Held held = outcome.held().orElseThrow();
      Reservation r = held.reservation();
      return new Reply(201, new JsonObject().put("id", held.id()).put("status", "held").put("action", r.action().action())
          .put("tier", r.action().tier()).put("quantity", r.action().quantity())
          .put("allowanceUnits", r.action().fromAllowance()).put("credits", credits(r.credits()))
          .put("expiresAt", held.expiresAt().toString()));
    });
  }

  /** POST /tollgate/v1/reservations/{id}/commit {quantity?}: charges what was used, releases the rest. */
  private Future<Reply> commit(RoutingContext ctx, Valid key) {
    Reservation r = reservation(ctx, key);
    Object raw = body(ctx, false);
    Long quantity = null;
    if (raw != null) {
      JsonObject b = object(raw);
      if (b.containsKey("quantity")) {
        Object q = b.getValue("quantity");
        if (!(q instanceof Integer || q instanceof Long) || ((Number) q).longValue() < 0
            || ((Number) q).longValue() > r.action().quantity()) {
          throw new Failure(400, "invalid_request", "quantity must be a whole number 0-" + r.action().quantity()
              + " (what the reservation holds), got " + IngestEvents.describe(q));
        }
        quantity = ((Number) q).longValue();
      }
    }
    String id = ctx.pathParam("id");
    return ingest.commit(r, quantity).map(outcome -> {
      Accepted a = outcome.accepted().orElseThrow(() -> notHeld(id));
      long heldCredits = r.credits();
      return new Reply(200, new JsonObject().put("id", id).put("status", "committed").put("eventId", a.eventId())
          .put("action", a.action()).put("tier", a.tier()).put("quantity", a.quantity())
          .put("allowanceUnits", a.allowanceUnits()).put("credits", credits(a.credits()))
          .put("released", new JsonObject().put("quantity", r.action().quantity() - a.quantity())
              .put("allowanceUnits", r.action().fromAllowance() - a.allowanceUnits())
              .put("credits", credits(heldCredits - a.credits()))));
    });
  }

  /** POST /tollgate/v1/reservations/{id}/cancel: releases everything it holds. */
  private Future<Reply> cancel(RoutingContext ctx, Valid key) {
    Reservation r = reservation(ctx, key);
    String id = ctx.pathParam("id");
    return ingest.cancel(r).map(cancelled -> {
      if (!cancelled) {
        throw notHeld(id);
      }
      return new Reply(200, new JsonObject().put("id", id).put("status", "cancelled")
          .put("released", new JsonObject().put("quantity", r.action().quantity())
              .put("allowanceUnits", r.action().fromAllowance()).put("credits", credits(r.credits()))));
    });
  }

  /** GET /tollgate/v1/balance: the key's account's credits, allowances left per tier, and the period. */
  private Future<Reply> balance(RoutingContext ctx, Valid key) {
    return ingest.balance(key.grant(), key.plan()).map(view -> {
      JsonObject allowances = new JsonObject();
      view.allowances().forEach(a -> allowances.put(a.tier(), new JsonObject().put("included", a.included())
          .put("used", a.used()).put("remaining", a.remaining())));
      return new Reply(200, new JsonObject().put("accountId", view.account().id()).put("plan", view.account().plan())
          .put("credits", credits(Math.max(0, view.credits())))
          .put("allowances", allowances)
          .put("period", new JsonObject().put("start", view.account().periodStart().toString())
              .put("end", view.account().periodEnd().toString())));
    });
  }

  // ---- helpers

  /** Credits as the API shows them: units become an exact decimal number ({@link Credits#json}). */
  static Object credits(long units) {
    return Credits.json(units);
  }

  private Reservation reservation(RoutingContext ctx, Valid key) {
    String id = ctx.pathParam("id");
    return ingest.reservation(key.grant(), id)
        .orElseThrow(() -> new Failure(404, "reservation_not_found", "no reservation " + abbreviate(id) + " of this account"));
  }

  private static Failure notHeld(String id) {
    return new Failure(409, "reservation_not_held", "reservation " + abbreviate(id)
        + " is no longer held: it was committed, cancelled, or it expired and its hold was released");
  }

  private static long quantity(JsonObject b) {
    if (!b.containsKey("quantity")) {
      return 1;
    }
    try {
      return IngestEvents.quantity(b.getValue("quantity"), "quantity");
    } catch (IngestEvents.BadEvent e) {
      throw new Failure(400, "invalid_request", e.getMessage());
    }
  }

  /** The request's JSON body, or null when it has none and {@code required} is false. */
  private static Object body(RoutingContext ctx, boolean required) {
    String text = ctx.body() == null ? null : ctx.body().asString();
    if (text == null || text.isBlank()) {
      if (required) {
        throw new Failure(400, "invalid_request", "a JSON body is required");
      }
      return null;
    }
    try {
      return Json.decodeValue(text);
    } catch (DecodeException e) {
      throw new Failure(400, "invalid_json", "the body is not valid JSON");
    }
  }

  private static JsonObject object(Object body) {
    if (body instanceof JsonObject o) {
      return o;
    }
    throw new Failure(400, "invalid_request", "the body must be a JSON object");
  }

  private static JsonObject outcome(ActionIngest.Event e, Outcome o) {
    JsonObject out = new JsonObject().put("id", e.id());
    if (o instanceof Accepted a) {
      return out.put("status", "accepted").put("eventId", a.eventId()).put("action", a.action()).put("tier", a.tier())
          .put("quantity", a.quantity()).put("allowanceUnits", a.allowanceUnits()).put("credits", credits(a.credits()));
    }
    if (o instanceof Duplicate d) {
      return out.put("status", "duplicate").put("eventId", d.eventId());
    }
    Refused r = (Refused) o;
    out.put("status", "refused").put("reason", r.reason()).put("message", r.message());
    if (r.retryAfterMs() > 0) {
      out.put("retryAfterMs", r.retryAfterMs());
    }
    return out;
  }

  private static Failure refusal(Refused r, JsonObject extra) {
    int status = switch (r.reason()) {
      case "insufficient_credits", "key_budget_exhausted" -> 402;
      case "rate_limited" -> 429;
      case "action_not_allowed" -> 403;
      case "unavailable" -> 503;
      default -> 400;
    };
    String retryAfter = r.retryAfterMs() > 0 ? Long.toString(Math.max(1, (r.retryAfterMs() + 999) / 1000)) : null;
    return new Failure(status, r.reason(), r.message(), retryAfter, extra);
  }

  private Refused unavailable(Throwable err) {
    if (err instanceof IllegalArgumentException bad) {
      return new Refused("invalid", bad.getMessage(), 0);
    }
    log.warn("ingest: metering failed: {}", err.toString());
    return new Refused("unavailable", "metering is unavailable (Redis cannot be reached); nothing was charged, try again", 1_000);
  }

  private void answer(RoutingContext ctx, BiFunction<RoutingContext, Valid, Future<Reply>> handler) {
    Valid key = ctx.get(GRANT);
    Future<Reply> reply;
    try {
      reply = handler.apply(ctx, key);
    } catch (RuntimeException e) {
      reply = Future.failedFuture(e);
    }
    reply.onComplete(ar -> {
      if (ar.succeeded()) {
        ctx.response().setStatusCode(ar.result().status()).putHeader("content-type", "application/json")
            .end(ar.result().body().toBuffer());
      } else if (ar.cause() instanceof Failure f) {
        send(ctx, f);
      } else if (ar.cause() instanceof IllegalArgumentException bad) {
        send(ctx, new Failure(400, "invalid_request", bad.getMessage()));
      } else {
        log.warn("ingest: {} failed: {}", ctx.request().path(), ar.cause().toString());
        send(ctx, new Failure(503, "metering_unavailable", "metering is unavailable; nothing was charged, try again shortly", "1", null));
      }
    });
  }

  private static void send(RoutingContext ctx, Failure f) {
    if (ctx.response().ended()) {
      return;
    }
    JsonObject problem = new JsonObject()
        .put("type", "https://tollgate.dev/problems/" + f.code)
        .put("title", f.code.replace('_', ' '))
        .put("status", f.status)
        .put("detail", f.getMessage())
        .put("instance", ctx.request().path())
        .put("code", f.code);
    if (f.extra != null) {
      problem.mergeIn(f.extra);
    }
    if (f.retryAfter != null) {
      ctx.response().putHeader("retry-after", f.retryAfter);
    }
    ctx.response().setStatusCode(f.status).putHeader("content-type", Problems.CONTENT_TYPE).end(problem.toBuffer());
  }

  private static String abbreviate(String s) {
    return s == null ? "(none)" : s.length() <= 80 ? s : s.substring(0, 80) + "…";
  }
}
