package io.tollgate.gateway.console;

import io.tollgate.gateway.ops.Problems;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.Refusal;
import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditTrail;
import io.vertx.core.Future;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The customer page behind a signed link: one account's balance, allowance, usage per day and
 * model, masked keys and invoices. The account comes only from the verified token; the page
 * reads nothing else from the URL, so no path or query can make it show another account. Links
 * are made by the console's account page or by {@code POST /admin/v1/accounts/{id}/customer-link}.
 */
final class CustomerPage {

  private final Console console;
  private final AccountData data;
  private final AuditTrail audit;
  private final PortalSessions portals;
  private final CheckoutSessions checkouts;

  CustomerPage(Console console, AccountData data, AuditTrail audit, PortalSessions portals, CheckoutSessions checkouts) {
    this.console = console;
    this.data = data;
    this.audit = audit;
    this.portals = portals;
    this.checkouts = checkouts;
  }

  void mount(Router router) {
    router.get("/console/customer/:token").handler(this::page);
    router.post("/console/customer/:token/portal").handler(this::portal);
    router.post("/console/customer/:token/checkout").handler(this::checkout);
    // Anything else under the customer path (other ids, extra segments) is not a customer page.
    router.route("/console/customer/*").handler(ctx -> notFound(ctx));
  }

  /** Fails with not-found (the page says "not valid") when the link was revoked. */
  private Future<Void> notRevoked(CustomerLinks.Verified link) {
    return console.revocations().isRevoked(link.tokenId())
        .compose(revoked -> revoked ? Future.failedFuture(Refusal.notFound("customer link")) : Future.succeededFuture());
  }

  /** Revokes a link (given whole, as a URL or path, or as its token) of any account, or of {@code onlyAccount} when given. */
  Future<Long> revoke(String given, Long onlyAccount, Actor actor) {
    String path = given == null ? "" : given.strip().replaceAll("[?#].*$", "");
    String token = path.substring(path.lastIndexOf('/') + 1);
    Optional<CustomerLinks.Verified> link = console.links().flatMap(l -> l.verify(token));
    if (link.isEmpty() || (onlyAccount != null && link.get().accountId() != onlyAccount)) {
      return Future.failedFuture(Refusal.invalid("link", onlyAccount == null ? "is not a valid, unexpired customer link"
          : "is not a valid, unexpired customer link of account " + onlyAccount));
    }
    return console.revocations().revoke(link.get().tokenId(), link.get().accountId(), link.get().expiresAt(), "customer_link.revoke", actor)
        .map(link.get().accountId());
  }

  static Future<Void> audit(AuditTrail audit, Actor actor, CustomerLinks.Link link) {
    return audit.record(actor, "customer_link.create", "account", Long.toString(link.accountId()), null,
        new JsonObject().put("expiresAt", link.expiresAt().toString()));
  }

  private void notFound(RoutingContext ctx) {
    console.down().onComplete(ar -> console.render(ctx, 404, "customer.jte", unavailable(
        "This link is not valid, or it has expired. Ask for a new one.", ar.succeeded() ? ar.result() : List.of())));
  }

  /** The console's policy, except that the customer page may be framed: the operator's app can embed it. */
  static final String EMBEDDABLE_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
      + "connect-src 'self'; frame-ancestors *; base-uri 'none'; form-action 'self' https://billing.stripe.com https://checkout.stripe.com";

  private void page(RoutingContext ctx) {
    ctx.response().putHeader("x-robots-tag", "noindex").putHeader("content-security-policy", EMBEDDABLE_CSP);
    Optional<CustomerLinks.Verified> link = console.links().flatMap(l -> l.verify(ctx.pathParam("token")));
    if (link.isEmpty()) {
      notFound(ctx);
      return;
    }
    long id = link.get().accountId();
    String expires = View.time(link.get().expiresAt());
    notRevoked(link.get()).compose(v -> data.account(id)).compose(a -> Future.all(List.of(data.balance(a), data.usage(a), data.keys(id), data.invoices(id), console.down(),
            data.allowances(a), checkouts.subscribed(a)))
            .map(all -> {
              View.Usage usage = all.resultAt(1);
              return new View.Customer(a.name(), a.name(), a.plan(), a.status(), View.units(all.<Long>resultAt(0)),
                  data.gauges(a, usage), all.resultAt(5), usage, all.resultAt(2), all.resultAt(3), expires, all.resultAt(4),
                  canManageBilling(a) ? ctx.request().path() + "/portal" : null, ctx.queryParams().get("billing"),
                  checkouts.available() && !all.<Boolean>resultAt(6) ? ctx.request().path() + "/checkout" : null,
                  checkouts.plans(), a.plan(), Signer.random(12));
            }))
        .onSuccess(view -> console.render(ctx, 200, "customer.jte", view))
        .onFailure(err -> {
          if (err instanceof Refusal) {
            notFound(ctx);
          } else {
            console.down().onComplete(ar -> console.render(ctx, 503, "customer.jte", unavailable(
                "Your usage cannot be shown right now. Try again in a moment.", ar.succeeded() && !ar.result().isEmpty()
                    ? ar.result() : List.of("a backing service"))));
          }
        });
  }

  private static View.Customer unavailable(String message, List<String> down) {
    return new View.Customer(message, null, null, null, null, List.of(), List.of(), null, List.of(), List.of(), null, down, null, null, null, List.of(), null, null);
  }

  private boolean canManageBilling(Account account) {
    return portals.available(account);
  }

  /**
   * "Manage billing": a Stripe Customer Portal session for the link's account, then 303 to it.
   * The token in the path is the capability (as for the page): no other account can be named.
   */
  private void portal(RoutingContext ctx) {
    Optional<CustomerLinks.Verified> link = console.links().flatMap(l -> l.verify(ctx.pathParam("token")));
    if (link.isEmpty()) {
      notFound(ctx);
      return;
    }
    String page = ctx.request().path().substring(0, ctx.request().path().length() - "/portal".length());
    notRevoked(link.get()).compose(v -> data.account(link.get().accountId())).compose(a -> {
      if (!canManageBilling(a)) {
        return Future.succeededFuture(page + "?billing=unavailable");
      }
      // Back to this page unless the operator configured a return page of their own.
      return portals.create(ctx.vertx(), a, ctx.request().absoluteURI().replaceAll("/portal$", ""));
    }).onSuccess(url -> Console.redirect(ctx, url))
        .onFailure(err -> {
          if (err instanceof Refusal) {
            notFound(ctx);
          } else {
            org.slf4j.LoggerFactory.getLogger(CustomerPage.class).warn("customer portal session failed: {}", err.toString());
            Console.redirect(ctx, page + "?billing=failed");
          }
        });
  }

  /**
   * "Upgrade": a Stripe Checkout session for the chosen plan (one sold through Stripe) for the
   * link's account, then 303 to it; back to this page (or the operator's configured pages). A
   * live subscription is not doubled: the page says to change plans with Manage billing.
   */
  private void checkout(RoutingContext ctx) {
    Optional<CustomerLinks.Verified> link = console.links().flatMap(l -> l.verify(ctx.pathParam("token")));
    if (link.isEmpty()) {
      notFound(ctx);
      return;
    }
    String page = ctx.request().path().substring(0, ctx.request().path().length() - "/checkout".length());
    String plan = ctx.request().getFormAttribute("plan");
    if (plan == null || !checkouts.plans().contains(plan)) {
      Console.redirect(ctx, page + "?billing=plan");
      return;
    }
    String once = CheckoutSessions.once(ctx.request().getFormAttribute("once"));
    String back = ctx.request().absoluteURI().replaceAll("/checkout$", "");
    notRevoked(link.get()).compose(v -> data.account(link.get().accountId()))
        .compose(a -> checkouts.open(ctx.vertx(), a, plan, checkouts.successUrl(back + "?billing=done"),
            checkouts.cancelUrl(back + "?billing=cancelled"), once, Console.actor(ctx)))
        .onSuccess(opened -> Console.redirect(ctx, opened.link().url()))
        .onFailure(err -> {
          if (err instanceof Refusal) {
            notFound(ctx);
            return;
          }
          if (!(err instanceof io.tollgate.stripesync.billing.Checkouts.SubscriptionExists)) {
            org.slf4j.LoggerFactory.getLogger(CustomerPage.class).warn("customer checkout session failed: {}", err.toString());
          }
          String problem = err instanceof io.tollgate.stripesync.billing.Checkouts.SubscriptionExists ? "subscribed"
              : err instanceof io.tollgate.stripesync.billing.Checkouts.StripeNotConfigured ? "unavailable" : "failed";
          Console.redirect(ctx, page + "?billing=" + problem);
        });
  }

  /** {@code POST /admin/v1/customer-links/revoke} (admin bearer token): {@code {link}} → {@code {accountId, revoked: true}}. */
  void revokeLinkApi(RoutingContext ctx) {
    String given;
    try {
      JsonObject body = ctx.body() == null || ctx.body().length() == 0 ? new JsonObject() : ctx.body().asJsonObject();
      Object raw = body == null ? null : body.getValue("link");
      if (!(raw instanceof String s) || s.isBlank() || s.length() > 2_000) {
        Problems.send(ctx, 400, "invalid-request", "Invalid request", "'link' must be the customer link (its URL, path or token)");
        return;
      }
      given = (String) raw;
    } catch (DecodeException | ClassCastException e) {
      Problems.send(ctx, 400, "invalid-json", "Invalid request", "request body is not a JSON object");
      return;
    }
    revoke(given, null, apiActor(ctx))
        .onSuccess(account -> ctx.response().setStatusCode(200).putHeader("content-type", "application/json")
            .end(new JsonObject().put("accountId", account).put("revoked", true).toBuffer()))
        .onFailure(err -> {
          if (err instanceof Refusal r) {
            Problems.send(ctx, 400, "invalid-request", "Invalid request", r.getMessage());
          } else {
            ctx.fail(err);
          }
        });
  }

  private static Actor apiActor(RoutingContext ctx) {
    String actorHeader = ctx.request().getHeader("x-tollgate-actor");
    return new Actor(actorHeader == null || actorHeader.isBlank() ? "admin-token" : actorHeader.substring(0, Math.min(200, actorHeader.length())),
        ctx.request().remoteAddress() == null ? null : ctx.request().remoteAddress().hostAddress());
  }

  /**
   * {@code POST /admin/v1/accounts/{id}/customer-link} (admin bearer token): {@code {days?}} →
   * {@code {accountId, url, token, expiresAt}}, 201.
   */
  void createLinkApi(RoutingContext ctx) {
    long id;
    long days;
    try {
      id = Long.parseLong(ctx.pathParam("id"));
      if (id <= 0) {
        throw new NumberFormatException();
      }
    } catch (NumberFormatException e) {
      Problems.send(ctx, 404, "not-found", "Not found", "account " + ctx.pathParam("id") + " not found");
      return;
    }
    try {
      JsonObject body = ctx.body() == null || ctx.body().length() == 0 ? new JsonObject() : ctx.body().asJsonObject();
      Object raw = body == null ? null : body.getValue("days");
      if (raw == null) {
        days = CustomerLinks.DEFAULT_TTL.toDays();
      } else if (raw instanceof Integer || raw instanceof Long) {
        days = ((Number) raw).longValue();
        if (days < 1 || days > CustomerLinks.MAX_TTL.toDays()) {
          throw new IllegalArgumentException();
        }
      } else {
        throw new IllegalArgumentException();
      }
    } catch (DecodeException | ClassCastException e) {
      Problems.send(ctx, 400, "invalid-json", "Invalid request", "request body is not a JSON object");
      return;
    } catch (IllegalArgumentException e) {
      Problems.send(ctx, 400, "invalid-request", "Invalid request",
          "'days' must be an integer from 1 to " + CustomerLinks.MAX_TTL.toDays());
      return;
    }
    if (console.links().isEmpty()) {
      Problems.send(ctx, 503, "admin-disabled", "Admin API disabled", "set TOLLGATE_ADMIN_TOKEN to sign customer links");
      return;
    }
    Actor actor = apiActor(ctx);
    long ttlDays = days;
    data.account(id).map(a -> console.links().get().create(a.id(), Duration.ofDays(ttlDays)))
        .compose(link -> audit(audit, actor, link).map(link))
        .onSuccess(link -> ctx.response().setStatusCode(201).putHeader("content-type", "application/json")
            .end(new JsonObject().put("accountId", link.accountId()).put("path", link.path()).put("token", link.token())
                .put("expiresAt", link.expiresAt().toString()).toBuffer()))
        .onFailure(err -> {
          if (err instanceof Refusal r && r.kind() == Refusal.Kind.NOT_FOUND) {
            Problems.send(ctx, 404, "not-found", "Not found", r.getMessage());
          } else {
            ctx.fail(err);
          }
        });
  }
}
