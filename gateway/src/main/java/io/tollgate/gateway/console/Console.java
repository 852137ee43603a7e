package io.tollgate.gateway.console;

import gg.jte.ContentType;
import gg.jte.TemplateEngine;
import gg.jte.output.StringOutput;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.Secret;
import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.Refusal;
import io.tollgate.metering.access.Revocations;
import io.tollgate.metering.accounts.AccountService;
import io.tollgate.metering.alerts.NotificationStore;
import io.tollgate.metering.audit.Actor;
import io.tollgate.metering.audit.AuditTrail;
import io.tollgate.metering.usage.UsageQueries;
import io.tollgate.stripesync.MeterSyncJobs;
import io.tollgate.stripesync.billing.BillingAdmin;
import io.vertx.core.Future;
import io.vertx.ext.healthchecks.CheckResult;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator console at {@code /console/} on the admin port, and the customer page behind
 * signed links. HTTP only: every page reads and every form changes through the same domain
 * services as the admin API ({@link AccountService}, {@link UsageQueries},
 * {@link NotificationStore}, {@link BillingAdmin}, {@link MeterSyncJobs}, {@link AuditTrail}), and every change is
 * audited with the actor {@value #ACTOR}. Pages are server-rendered jte templates (HTML-escaped);
 * htmx and the chart library come from WebJars.
 */
public final class Console {

  /** The audit log's actor for everything done through the console. */
  public static final String ACTOR = "console";
  private static final Logger log = LoggerFactory.getLogger(Console.class);
  static final String CSRF_FIELD = "_csrf";
  static final String CSRF_HEADER = "x-csrf-token";
  /** A routing-context key: an error the page being rendered shows (a refused change, with the page it was made on). */
  static final String ERROR = "console.error";

  private final TemplateEngine templates = TemplateEngine.createPrecompiled(null, ContentType.Html,
      Console.class.getClassLoader(), "io.tollgate.gateway.console.templates");
  private final Optional<ConsoleSessions> sessions;
  private final Optional<CustomerLinks> links;
  private final Optional<Secret> adminToken;
  private final AccountPages accounts;
  private final AuditPage audit;
  private final OverviewPage overview;
  private final CustomerPage customer;
  private final SignInPage signIn;
  private final StripePage stripe;
  private final NotificationsPage notifications;
  private final Revocations revocations;
  private final NotificationStore notificationStore;
  /** The bell counts unread notifications up to this many, then shows "99+". */
  static final int BELL_CAP = 100;
  private Supplier<Future<CheckResult>> readiness = () -> Future.succeededFuture(new CheckResult());

  public Console(AccountService accountService, UsageQueries usage, NotificationStore notifications, BillingAdmin billing,
                 MeterSyncJobs meterSync, AuditTrail auditTrail, Revocations revocations, TollgateConfig config,
                 MeterRegistry registry, Clock clock) {
    this.revocations = revocations;
    this.notificationStore = notifications;
    this.adminToken = config.secrets().adminToken();
    this.sessions = adminToken.map(t -> new ConsoleSessions(t.reveal(), clock));
    this.links = adminToken.map(t -> new CustomerLinks(t.reveal(), clock));
    AccountData data = new AccountData(accountService, usage, notifications, billing, config, clock);
    PortalSessions portals = new PortalSessions(billing, config);
    CheckoutSessions checkouts = new CheckoutSessions(billing, config);
    this.accounts = new AccountPages(this, accountService, data, config, auditTrail, portals, checkouts);
    this.audit = new AuditPage(this, auditTrail);
    this.overview = new OverviewPage(this, registry);
    this.customer = new CustomerPage(this, data, auditTrail, portals, checkouts);
    this.accounts.customerPage(customer);
    this.signIn = new SignInPage(this);
    this.stripe = new StripePage(this, meterSync, billing, auditTrail, clock);
    this.notifications = new NotificationsPage(this, notifications, auditTrail);
  }

  /**
   * Mounts the console under {@code /console} and the customer-link endpoint of the admin API;
   * {@code readiness} tells which backing services are down, for the banner.
   */
  public void mount(Router router, Supplier<Future<CheckResult>> readiness) {
    this.readiness = readiness;
    ConsoleAssets.mount(router);
    router.route("/console/*").handler(BodyHandler.create(false).setBodyLimit(16 * 1024));
    router.route("/console/*").handler(this::securityHeaders);
    // Vert.x matches "/console" and "/console/" alike: only the bare one is redirected.
    router.get("/console").handler(ctx -> {
      if (ctx.request().path().equals("/console")) {
        redirect(ctx, "/console/");
      } else {
        ctx.next();
      }
    });
    customer.mount(router);
    signIn.mount(router);
    router.route("/console/*").handler(this::requireSession);
    router.post("/console/*").handler(this::requireCsrf);
    router.get("/console/").handler(ctx -> redirect(ctx, "/console/overview"));
    overview.mount(router);
    accounts.mount(router);
    audit.mount(router);
    stripe.mount(router);
    notifications.mount(router);
    router.get("/console/api").handler(ctx -> chrome(ctx, "Admin API", "api").onSuccess(c -> render(ctx, 200, "api.jte", new View.Api(c))));
    router.route("/console/*").handler(ctx -> chrome(ctx, "Not found", "").onSuccess(c ->
        render(ctx, 404, "problem.jte", new View.Problem(c, 404, "There is no console page at " + ctx.request().path() + "."))));
    router.post("/admin/v1/accounts/:id/customer-link").handler(customer::createLinkApi);
    router.post("/admin/v1/customer-links/revoke").handler(customer::revokeLinkApi);
  }

  Optional<ConsoleSessions> sessions() {
    return sessions;
  }

  Optional<CustomerLinks> links() {
    return links;
  }

  Optional<Secret> adminToken() {
    return adminToken;
  }

  static Actor actor(RoutingContext ctx) {
    return new Actor(ACTOR, ctx.request().remoteAddress() == null ? null : ctx.request().remoteAddress().hostAddress());
  }

  private void securityHeaders(RoutingContext ctx) {
    // Scripts only from the console's own files: injected markup cannot run. Styles may be inline (the chart sets them).
    ctx.response().putHeader("content-security-policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            + "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
        .putHeader("x-content-type-options", "nosniff")
        .putHeader("referrer-policy", "no-referrer")
        .putHeader("cache-control", "no-store");
    ctx.next();
  }

  private void requireSession(RoutingContext ctx) {
    Optional<ConsoleSessions.Session> session = sessions.flatMap(s -> s.session(ctx));
    if (session.isEmpty()) {
      signInAgain(ctx);
      return;
    }
    // A signed-out session stays refused while its cookie could still be presented. Unable to
    // tell (Postgres down), the console fails closed: a 503 page with the banner.
    revocations.isRevoked(session.get().tokenId()).onSuccess(revoked -> {
      if (revoked) {
        signInAgain(ctx);
      } else {
        ctx.put("console.session", session.get().id());
        ctx.put("console.session.expires", session.get().expiresAt());
        ctx.next();
      }
    }).onFailure(err -> fail(ctx, err));
  }

  private void signInAgain(RoutingContext ctx) {
    if (ctx.request().method() == io.vertx.core.http.HttpMethod.GET) {
      redirect(ctx, "/console/sign-in");
    } else {
      ctx.response().putHeader("hx-redirect", "/console/sign-in");
      problem(ctx, 401, "Your console session has ended: sign in again.");
    }
  }

  Revocations revocations() {
    return revocations;
  }

  private void requireCsrf(RoutingContext ctx) {
    String session = ctx.get("console.session");
    String token = ctx.request().getFormAttribute(CSRF_FIELD);
    if (token == null) {
      token = ctx.request().getHeader(CSRF_HEADER);
    }
    if (!sessions.orElseThrow().csrfValid(session, token)) {
      problem(ctx, 403, "This form is out of date or did not come from the console (CSRF token missing or wrong): reload the page and try again.");
      return;
    }
    ctx.next();
  }

  /** The page frame, with the names of backing services that are down. */
  Future<View.Chrome> chrome(RoutingContext ctx, String title, String section) {
    String session = ctx.get("console.session");
    String csrf = session == null ? null : sessions.orElseThrow().csrfToken(session);
    Future<String> unread = session == null ? Future.succeededFuture(null) : notificationStore.unreadCount(BELL_CAP)
        .map(n -> n >= BELL_CAP ? (BELL_CAP - 1) + "+" : Long.toString(n)).otherwise((String) null);
    return Future.all(down(), unread).map(all -> new View.Chrome(title, section, csrf, all.resultAt(0), ctx.queryParams().get("done"),
        ctx.get(ERROR), session != null).withUnread(all.resultAt(1)));
  }

  /** Names of the backing services the readiness check finds down; empty when it cannot tell. */
  Future<List<String>> down() {
    return readiness.get().map(result -> {
      List<String> out = new ArrayList<>();
      if (result.getChecks() != null) {
        for (CheckResult check : result.getChecks()) {
          if (!check.getUp()) {
            out.add(check.getId().equals("postgres") ? "PostgreSQL" : check.getId().equals("redis") ? "Redis" : check.getId());
          }
        }
      }
      return out;
    }).otherwise(err -> List.of("Redis or PostgreSQL"));
  }

  void render(RoutingContext ctx, int status, String template, Object model) {
    StringOutput out = new StringOutput();
    templates.render(template, model, out);
    ctx.response().setStatusCode(status).putHeader("content-type", "text/html; charset=utf-8").end(out.toString());
  }

  static void redirect(RoutingContext ctx, String location) {
    ctx.response().setStatusCode(303).putHeader("location", location).end();
  }

  /** An error page with the frame, for what the caller can fix (4xx). */
  void problem(RoutingContext ctx, int status, String message) {
    chrome(ctx, status == 404 ? "Not found" : "Cannot do that", "").onComplete(ar -> {
      View.Chrome c = ar.succeeded() ? ar.result() : new View.Chrome("Error", "", null, List.of(), null, null, false);
      render(ctx, status, "problem.jte", new View.Problem(c, status, message));
    });
  }

  /**
   * The one mapping from failures to pages: refusals and bad input say what to fix; anything else
   * (a backing service down, a bug) is a 503 page with the banner and never a stack trace.
   */
  void fail(RoutingContext ctx, Throwable err) {
    if (ctx.response().ended()) {
      return;
    }
    if (err instanceof FormError bad) {
      problem(ctx, 400, bad.getMessage());
    } else if (err instanceof Refusal refusal) {
      switch (refusal.kind()) {
        case NOT_FOUND -> problem(ctx, 404, capitalized(refusal.getMessage()) + ".");
        case CONFLICT -> problem(ctx, 409, capitalized(refusal.getMessage()) + ".");
        case INVALID -> problem(ctx, 400, capitalized(refusal.getMessage()) + ".");
      }
    } else {
      log.atWarn().addKeyValue("path", ctx.request().path()).log("console page failed: {}", err.toString());
      down().onComplete(ar -> {
        List<String> down = ar.succeeded() && !ar.result().isEmpty() ? ar.result() : List.of("a backing service");
        String csrf = ctx.get("console.session") == null ? null : sessions.orElseThrow().csrfToken(ctx.get("console.session"));
        View.Chrome c = new View.Chrome("Unavailable", "", csrf, down, null, null, csrf != null);
        render(ctx, 503, "problem.jte", new View.Problem(c, 503,
            "This page could not be loaded because " + String.join(" and ", down) + " did not answer. Try again in a moment."));
      });
    }
  }

  private static String capitalized(String s) {
    return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
  }
}
