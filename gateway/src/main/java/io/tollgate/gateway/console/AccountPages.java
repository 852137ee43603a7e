package io.tollgate.gateway.console;

import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.Refusal;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountService;
import io.tollgate.metering.accounts.AccountStore.NewAccount;
import io.tollgate.metering.keys.ApiKeyFormat;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.tollgate.metering.audit.AuditTrail;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Accounts: search and page, create; an account's page (plan, status, balance, allowance, usage
 * chart and projection, keys, credits, invoices, notifications, customer link) and its forms.
 * A change answers 303 to the account page (so a reload never repeats it), except a new key,
 * which is rendered once in the answer and never put in a URL.
 */
final class AccountPages {

  static final int PAGE = 50;
  private static final List<String> BILLING_MODES = List.of("prepaid", "postpaid", "hybrid");

  private final Console console;
  private final AccountService accounts;
  private final AccountData data;
  private final TollgateConfig config;
  private final AuditTrail audit;
  private final PortalSessions portals;
  private final CheckoutSessions checkouts;
  private CustomerPage customerPage;

  AccountPages(Console console, AccountService accounts, AccountData data, TollgateConfig config, AuditTrail audit,
               PortalSessions portals, CheckoutSessions checkouts) {
    this.checkouts = checkouts;
    this.console = console;
    this.accounts = accounts;
    this.data = data;
    this.config = config;
    this.audit = audit;
    this.portals = portals;
  }

  void mount(Router router) {
    router.get("/console/accounts").handler(this::list);
    router.post("/console/accounts").handler(this::create);
    router.get("/console/accounts/:id").handler(ctx -> page(ctx, null));
    router.post("/console/accounts/:id/keys").handler(this::createKey);
    router.post("/console/accounts/:id/keys/:keyId/revoke").handler(this::revokeKey);
    router.post("/console/accounts/:id/keys/:keyId/rotate").handler(this::rotateKey);
    router.post("/console/accounts/:id/credits").handler(this::changeCredits);
    router.post("/console/accounts/:id/customer-link").handler(this::customerLink);
    router.post("/console/accounts/:id/customer-link/revoke").handler(this::revokeCustomerLink);
    router.post("/console/accounts/:id/portal").handler(this::portal);
    router.post("/console/accounts/:id/checkout").handler(this::checkout);
    router.post("/console/accounts/:id/edit").handler(this::edit);
  }

  /** The configured plans, the free plan first (the new-account form's default), then by name: a stable order. */
  private List<String> plans() {
    String free = TollgateConfig.freePlanName();
    return config.plans().keySet().stream()
        .sorted(java.util.Comparator.<String, Boolean>comparing(p -> !p.equals(free)).thenComparing(p -> p)).toList();
  }

  private void list(RoutingContext ctx) {
    String q = ctx.queryParams().get("q");
    String query = q == null || q.isBlank() ? null : q.strip();
    long after;
    try {
      after = ctx.queryParams().contains("after") ? Long.parseLong(ctx.queryParams().get("after")) : 0;
    } catch (NumberFormatException e) {
      after = 0;
    }
    if (query != null && query.length() > 200) {
      console.problem(ctx, 400, "Search text may be at most 200 characters.");
      return;
    }
    Future<List<Account>> page = query == null ? accounts.page(after, PAGE) : accounts.search(query, after, PAGE);
    Future.all(console.chrome(ctx, "Accounts", "accounts"), page).onSuccess(all -> {
      List<Account> rows = all.resultAt(1);
      Long next = rows.size() == PAGE ? rows.get(rows.size() - 1).id() : null;
      console.render(ctx, 200, "accounts.jte", new View.Accounts(all.resultAt(0), query, rows, next, plans()));
    }).onFailure(err -> console.fail(ctx, err));
  }

  private void create(RoutingContext ctx) {
    Future.<Account>future(p -> {
      String name = FormError.text(ctx, "name", "Name", true, 200);
      String plan = FormError.oneOf(ctx, "plan", "Plan", config.plans().keySet(), "free");
      if (!config.plans().containsKey(plan)) {
        throw new FormError("Plan must be one of " + String.join(", ", config.plans().keySet()) + ".");
      }
      String mode = FormError.oneOf(ctx, "billingMode", "Billing mode", BILLING_MODES, "prepaid");
      Long initial = FormError.credits(ctx, "initialCredits", "Initial credits", false, false);
      accounts.create(new NewAccount(name, plan, mode, null, null, null, null), initial == null ? 0 : initial, Console.actor(ctx))
          .onComplete(p);
    }).onSuccess(a -> Console.redirect(ctx, "/console/accounts/" + a.id() + "?done=Account+created"))
        .onFailure(err -> console.fail(ctx, err));
  }

  /** The account page; {@code newKey} is the plaintext of a key just created, shown this once. */
  private void page(RoutingContext ctx, String newKey) {
    long id;
    try {
      id = FormError.pathId(ctx, "id", "account");
    } catch (Refusal e) {
      console.fail(ctx, e);
      return;
    }
    pageFor(ctx, id, newKey, null, null);
  }

  private void pageFor(RoutingContext ctx, long id, String newKey, String link, String linkExpires) {
    pageFor(ctx, id, newKey, link, linkExpires, null);
  }

  private void pageFor(RoutingContext ctx, long id, String newKey, String link, String linkExpires, String portalUrl) {
    pageFor(ctx, id, newKey, link, linkExpires, portalUrl, null);
  }

  private void pageFor(RoutingContext ctx, long id, String newKey, String link, String linkExpires, String portalUrl, String checkoutUrl) {
    data.account(id).compose(account -> Future.all(List.of(
            console.chrome(ctx, account.name(), "accounts"), data.balance(account), data.usage(account), data.keys(id),
            accounts.credits(account, AccountData.LATEST), data.invoices(id), data.notifications(id), data.allowances(account),
            checkouts.subscribed(account)))
        .map(all -> {
          View.Usage usage = all.resultAt(2);
          AccountService.Credits credits = all.resultAt(4);
          List<View.CreditRow> ledger = new ArrayList<>();
          for (JsonObject t : credits.transactions()) {
            ledger.add(new View.CreditRow(View.time(java.time.Instant.parse(t.getString("createdAt"))), t.getString("kind"),
                View.credits(t.getValue("amount")), t.getString("reason"), t.getString("actor")));
          }
          return new View.AccountPage(all.resultAt(0), account, View.units(all.<Long>resultAt(1)), account.enforcesCredits(),
              data.gauges(account, usage), all.resultAt(7), usage, all.resultAt(3), newKey, ledger, all.resultAt(5),
              all.resultAt(6), link, linkExpires, plans(), Signer.random(12), portals.available(account), portalUrl,
              new View.Checkout(checkouts.available(), all.<Boolean>resultAt(8), checkouts.configuredReturns().isPresent(),
                  checkouts.plans(), checkoutUrl), STATUSES,
              account.spendCap() == null ? "" : io.tollgate.config.Credits.format(account.spendCap()),
              account.lowBalanceCredits() == null ? "" : io.tollgate.config.Credits.format(account.lowBalanceCredits()));
        }))
        .onSuccess(view -> {
          if (ctx.request().method() == io.vertx.core.http.HttpMethod.POST) {
            // htmx keeps the address bar on the account page, not on the form's action.
            ctx.response().putHeader("hx-replace-url", "/console/accounts/" + id);
          }
          console.render(ctx, 200, "account.jte", view);
        })
        .onFailure(err -> console.fail(ctx, err));
  }

  private void createKey(RoutingContext ctx) {
    Future.<String>future(p -> {
      long id = FormError.pathId(ctx, "id", "account");
      String name = FormError.text(ctx, "name", "Key name", false, 200);
      String environment = FormError.oneOf(ctx, "environment", "Environment", List.of("live", "test"), "live");
      accounts.get(id).compose(account -> accounts.createKey(account, new AccountService.NewKey(
              environment.equals("live") ? ApiKeyFormat.LIVE : ApiKeyFormat.TEST, name, new JsonObject(), null, null, null),
              Console.actor(ctx)))
          .map(created -> created.plaintext()).onComplete(p);
    }).onSuccess(plaintext -> {
      ctx.queryParams().set("done", "Key created: copy it now, it is not shown again");
      pageFor(ctx, Long.parseLong(ctx.pathParam("id")), plaintext, null, null);
    }).onFailure(err -> console.fail(ctx, err));
  }

  private void revokeKey(RoutingContext ctx) {
    Future.<Long>future(p -> {
      long id = FormError.pathId(ctx, "id", "account");
      long keyId = FormError.pathId(ctx, "keyId", "key");
      // Only a key of this account: the page's forms never reach across accounts.
      accounts.listKeys(id).compose(keys -> {
        if (keys.stream().noneMatch(k -> k.id() == keyId)) {
          return Future.failedFuture(Refusal.notFound("key " + keyId + " of account " + id));
        }
        return accounts.revokeKey(keyId, Console.actor(ctx)).map(id);
      }).onComplete(p);
    }).onSuccess(id -> Console.redirect(ctx, "/console/accounts/" + id + "?done=Key+revoked"))
        .onFailure(err -> console.fail(ctx, err));
  }

  /** A replacement key, shown once; the old one keeps working for the configured overlap. */
  private void rotateKey(RoutingContext ctx) {
    Future.<String>future(p -> {
      long id = FormError.pathId(ctx, "id", "account");
      long keyId = FormError.pathId(ctx, "keyId", "key");
      accounts.listKeys(id).compose(keys -> {
        if (keys.stream().noneMatch(k -> k.id() == keyId)) {
          return Future.failedFuture(Refusal.notFound("key " + keyId + " of account " + id));
        }
        return accounts.rotateKey(keyId, config.metering().keyRotationOverlap(), Console.actor(ctx)).map(r -> r.created().plaintext());
      }).onComplete(p);
    }).onSuccess(plaintext -> {
      ctx.queryParams().set("done", "Key rotated: copy the new key now, it is not shown again; the old one works for "
          + config.metering().keyRotationOverlap().toHours() + " h more");
      pageFor(ctx, Long.parseLong(ctx.pathParam("id")), plaintext, null, null);
    }).onFailure(err -> console.fail(ctx, err));
  }

  private void changeCredits(RoutingContext ctx) {
    Future.<Long>future(p -> {
      long id = FormError.pathId(ctx, "id", "account");
      Long amount = FormError.credits(ctx, "amount", "Amount", true, true);
      if (amount == 0) {
        throw new FormError("Amount must not be 0: give a positive number to grant, a negative one to take credits away.");
      }
      String reason = FormError.text(ctx, "reason", "Reason", true, 500);
      // The form's one-time token makes a double submit apply once.
      String once = FormError.text(ctx, "idempotencyKey", "Idempotency key", false, 100);
      accounts.changeCredits(id, amount, reason, once == null ? null : "console-" + once, Console.actor(ctx)).map(id).onComplete(p);
    }).onSuccess(id -> Console.redirect(ctx, "/console/accounts/" + id + "?done=Credits+changed"))
        .onFailure(err -> console.fail(ctx, err));
  }

  void customerPage(CustomerPage page) {
    this.customerPage = page;
  }

  private void revokeCustomerLink(RoutingContext ctx) {
    Future.<Long>future(p -> {
      long id = FormError.pathId(ctx, "id", "account");
      String link = FormError.text(ctx, "link", "Link", true, 2_000);
      customerPage.revoke(link, id, Console.actor(ctx)).onComplete(p);
    }).onSuccess(id -> Console.redirect(ctx, "/console/accounts/" + id + "?done=Customer+link+revoked"))
        .onFailure(err -> console.fail(ctx, err));
  }

  /** A Stripe Customer Portal link for the account, to hand to its customer (as the admin API's /portal). */
  private void portal(RoutingContext ctx) {
    Future.<String>future(p -> {
      long id = FormError.pathId(ctx, "id", "account");
      accounts.get(id).compose(account -> {
        if (!portals.available(account)) {
          return Future.failedFuture(Refusal.conflict("account " + id + " has no Stripe customer yet, or Stripe is not configured"));
        }
        return portals.create(ctx.vertx(), account, ctx.request().absoluteURI().replaceAll("/portal$", ""));
      }).onComplete(p);
    }).onSuccess(url -> {
      ctx.queryParams().set("done", "Billing portal link created");
      pageFor(ctx, Long.parseLong(ctx.pathParam("id")), null, null, null, url);
    }).onFailure(err -> console.fail(ctx, err));
  }

  /**
   * A Stripe Checkout link for a plan, to hand to the account's customer (as the admin API's
   * /checkout makes it); returns to the configured checkout pages. A live subscription is refused
   * with the page saying to change its plan instead.
   */
  private void checkout(RoutingContext ctx) {
    long id;
    String plan;
    String once;
    try {
      id = FormError.pathId(ctx, "id", "account");
      plan = FormError.oneOf(ctx, "plan", "Plan", checkouts.plans(), null);
      if (plan == null) {
        throw new FormError("Plan is required: one of " + String.join(", ", checkouts.plans()) + ".");
      }
      once = CheckoutSessions.once(FormError.text(ctx, "once", "Once", false, 100));
    } catch (FormError | io.tollgate.metering.Refusal e) {
      console.fail(ctx, e);
      return;
    }
    Optional<String[]> returns = checkouts.configuredReturns();
    if (returns.isEmpty()) {
      console.problem(ctx, 409, "Set billing.checkoutSuccessUrl and billing.checkoutCancelUrl in the configuration: "
          + "a Checkout link needs the pages Stripe sends the customer back to.");
      return;
    }
    accounts.get(id).compose(account -> checkouts.open(ctx.vertx(), account, plan, returns.get()[0], returns.get()[1], once,
            Console.actor(ctx)))
        .onSuccess(opened -> {
          ctx.queryParams().set("done", "Checkout link created for plan " + plan);
          pageFor(ctx, id, null, null, null, null, opened.link().url());
        })
        .onFailure(err -> {
          String refusal = CheckoutSessions.refusal(err, true);
          if (refusal == null || err instanceof io.tollgate.metering.Refusal) {
            console.fail(ctx, err);
          } else {
            ctx.put(Console.ERROR, refusal);
            pageFor(ctx, id, null, null, null, null, null);
          }
        });
  }

  private static final List<String> STATUSES = java.util.Arrays.stream(io.tollgate.metering.accounts.AccountStatus.values())
      .map(io.tollgate.metering.accounts.AccountStatus::dbValue).toList();

  /**
   * Edits name, status, spend cap and low-balance alert (empty clears them), and the plan unless
   * the account is billed by a live Stripe subscription: then the form has no plan field, and a
   * plan sent anyway is refused by the same guard as the admin API's PATCH (409, "use the plan
   * change"). Audited as {@code account.update} by the console.
   */
  private void edit(RoutingContext ctx) {
    Future.<Long>future(p -> {
      long id = FormError.pathId(ctx, "id", "account");
      String name = FormError.text(ctx, "name", "Name", true, 200);
      String status = FormError.oneOf(ctx, "status", "Status", STATUSES, null);
      String plan = FormError.oneOf(ctx, "plan", "Plan", config.plans().keySet(), null);
      // A field left out of the form keeps its value; one sent empty clears it.
      boolean capSent = ctx.request().formAttributes().contains("spendCap");
      boolean lowSent = ctx.request().formAttributes().contains("lowBalanceCredits");
      Long spendCap = FormError.credits(ctx, "spendCap", "Spend cap", false, false);
      Long lowBalance = FormError.credits(ctx, "lowBalanceCredits", "Low-balance alert", false, false);
      accounts.update(id, before -> new Account(before.id(), name, plan == null ? before.plan() : plan, before.billingMode(),
              status == null ? before.status() : status, before.stripeCustomerId(), capSent ? spendCap : before.spendCap(),
              before.requestsPerMinute(), before.tokensPerMinute(), before.alertWebhookUrl(), before.shard(), before.periodStart(),
              before.periodEnd(), before.createdAt(), before.updatedAt(), before.alertThresholds(),
              lowSent ? lowBalance : before.lowBalanceCredits(), before.trialEndsAt()),
          Console.actor(ctx)).map(id).onComplete(p);
    }).onSuccess(id -> Console.redirect(ctx, "/console/accounts/" + id + "?done=Account+saved"))
        .onFailure(err -> console.fail(ctx, err));
  }

  private void customerLink(RoutingContext ctx) {
    Future.<CustomerLinks.Link>future(p -> {
      long id = FormError.pathId(ctx, "id", "account");
      Long days = FormError.number(ctx, "days", "Days valid", false, 1, CustomerLinks.MAX_TTL.toDays());
      Duration ttl = days == null ? CustomerLinks.DEFAULT_TTL : Duration.ofDays(days);
      accounts.get(id).map(account -> console.links().orElseThrow().create(account.id(), ttl))
          .compose(link -> CustomerPage.audit(audit, Console.actor(ctx), link).map(link)).onComplete(p);
    }).onSuccess(link -> {
      ctx.queryParams().set("done", "Customer link created");
      pageFor(ctx, link.accountId(), null, link.path(), View.time(link.expiresAt()));
    }).onFailure(err -> console.fail(ctx, err));
  }
}
