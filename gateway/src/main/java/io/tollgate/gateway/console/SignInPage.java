package io.tollgate.gateway.console;

import io.tollgate.gateway.ops.AdminAuthLimiter;
import io.vertx.core.http.Cookie;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.List;

/**
 * Sign-in with the admin token (the same secret as the admin API's bearer token), sign-out. The
 * sign-in form has its own CSRF token, checked against a cookie (double submit), and wrong tokens
 * are limited per client address like the admin API's.
 */
final class SignInPage {

  private final Console console;
  private final AdminAuthLimiter limiter = new AdminAuthLimiter(Clock.systemUTC());

  SignInPage(Console console) {
    this.console = console;
  }

  void mount(Router router) {
    router.get("/console/sign-in").handler(ctx -> form(ctx, 200, null));
    router.post("/console/sign-in").handler(this::signIn);
    router.post("/console/sign-out").handler(this::signOut);
  }

  private void form(RoutingContext ctx, int status, String error) {
    String value = Signer.random(18);
    console.sessions().ifPresent(s -> ctx.response().addCookie(s.signInCookie(ctx, value)));
    console.down().onComplete(ar -> {
      View.Chrome chrome = new View.Chrome("Sign in", "sign-in", null, ar.succeeded() ? ar.result() : List.of(), null, error, false);
      console.render(ctx, console.sessions().isEmpty() ? 503 : status, "signin.jte",
          new View.SignIn(chrome, value, console.sessions().isEmpty()));
    });
  }

  private void signIn(RoutingContext ctx) {
    if (console.sessions().isEmpty()) {
      form(ctx, 503, null);
      return;
    }
    Cookie pre = ctx.request().getCookie(ConsoleSessions.SIGN_IN_COOKIE);
    String formToken = ctx.request().getFormAttribute(Console.CSRF_FIELD);
    if (pre == null || formToken == null || !MessageDigest.isEqual(pre.getValue().getBytes(StandardCharsets.UTF_8),
        formToken.getBytes(StandardCharsets.UTF_8))) {
      form(ctx, 403, "The sign-in form was out of date (CSRF check failed): try again.");
      return;
    }
    String given = ctx.request().getFormAttribute("token");
    byte[] expected = console.adminToken().orElseThrow().reveal().getBytes(StandardCharsets.UTF_8);
    if (given == null || !MessageDigest.isEqual(given.strip().getBytes(StandardCharsets.UTF_8), expected)) {
      String ip = ctx.request().remoteAddress() == null ? "unknown" : ctx.request().remoteAddress().hostAddress();
      long retryAfter = limiter.failed(ip);
      if (retryAfter > 0) {
        ctx.response().putHeader("retry-after", Long.toString(retryAfter));
        form(ctx, 429, "Too many wrong admin tokens from this address: wait " + retryAfter + " s.");
      } else {
        form(ctx, 401, "That is not the admin token.");
      }
      return;
    }
    ConsoleSessions sessions = console.sessions().get();
    ctx.response().addCookie(sessions.open(ctx));
    ctx.response().addCookie(ConsoleSessions.cookie(ctx, ConsoleSessions.SIGN_IN_COOKIE, "", 0));
    Console.redirect(ctx, "/console/overview");
  }

  private void signOut(RoutingContext ctx) {
    // Needs the session's CSRF token: another site cannot sign the operator out either.
    var sessions = console.sessions();
    var session = sessions.flatMap(s -> s.session(ctx));
    String token = ctx.request().getFormAttribute(Console.CSRF_FIELD);
    if (session.isPresent() && !sessions.get().csrfValid(session.get().id(), token)) {
      console.problem(ctx, 403, "Sign-out needs the console's form token: reload the page and try again.");
      return;
    }
    sessions.ifPresent(s -> ctx.response().addCookie(s.close(ctx)));
    if (session.isEmpty()) {
      Console.redirect(ctx, "/console/sign-in");
      return;
    }
    // Listed until the cookie would have expired: a copy of it stops working too.
    console.revocations().revoke(session.get().tokenId(), null, session.get().expiresAt(), "console.sign_out", Console.actor(ctx))
        .onSuccess(v -> Console.redirect(ctx, "/console/sign-in"))
        .onFailure(err -> console.fail(ctx, err));
  }
}
