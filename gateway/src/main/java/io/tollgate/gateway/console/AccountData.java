package io.tollgate.gateway.console;

import io.tollgate.config.PlanConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.metering.accounts.Account;
import io.tollgate.metering.accounts.AccountService;
import io.tollgate.metering.alerts.AlertBasis;
import io.tollgate.metering.alerts.NotificationStore;
import io.tollgate.metering.keys.ApiKey;
import io.tollgate.metering.usage.UsageFilter;
import io.tollgate.metering.usage.UsageQueries;
import io.tollgate.stripesync.billing.BillingAdmin;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Reads of one account for the console's account page and the customer page, each bounded: the
 * period's daily usage per model from the hourly rollups (at most {@link #MAX_BUCKETS} buckets),
 * the account's keys, the latest invoices and notifications.
 */
final class AccountData {

  static final int MAX_BUCKETS = 2_000;
  static final int LATEST = 20;

  private final AccountService accounts;
  private final UsageQueries usage;
  private final NotificationStore notifications;
  private final BillingAdmin billing;
  private final TollgateConfig config;
  private final Clock clock;

  AccountData(AccountService accounts, UsageQueries usage, NotificationStore notifications, BillingAdmin billing,
              TollgateConfig config, Clock clock) {
    this.accounts = accounts;
    this.usage = usage;
    this.notifications = notifications;
    this.billing = billing;
    this.config = config;
    this.clock = clock;
  }

  Future<Account> account(long id) {
    return accounts.get(id);
  }

  Future<Long> balance(Account account) {
    return accounts.spendable(account);
  }

  /**
   * The current period's usage per day and model, and per day, action and tier for billable
   * actions, with the credits to date and the linear projection to its end.
   */
  Future<View.Usage> usage(Account account) {
    Instant now = clock.instant();
    Instant start = account.periodStart();
    Instant end = now.isBefore(start) ? start.plusSeconds(3_600) : now;
    UsageFilter hours = new UsageFilter(account.id(), null, null, null, start, end).wholeHours();
    return Future.all(usage.rollups(hours, "day", List.of("model"), MAX_BUCKETS),
        usage.rollups(hours, "day", List.of("action", "tier"), MAX_BUCKETS)).map(both -> {
      List<UsageQueries.Bucket> buckets = both.resultAt(0);
      TreeSet<Long> days = new TreeSet<>();
      Map<String, Map<Long, Long>> perModel = new TreeMap<>();
      List<View.UsageRow> rows = new ArrayList<>();
      long requests = 0;
      long credits = 0;
      for (UsageQueries.Bucket b : buckets) {
        // Rollups store "no model" as '' (it is part of their key).
        Object raw = b.groups().get("model");
        String model = raw == null || raw.toString().isEmpty() ? "(no model)" : raw.toString();
        long day = b.start().getEpochSecond();
        days.add(day);
        perModel.computeIfAbsent(model, m -> new TreeMap<>()).merge(day, b.credits(), Long::sum);
        rows.add(new View.UsageRow(View.day(b.start()), model, b.requests(), View.units(b.credits())));
        requests += b.requests();
        credits += b.credits();
      }
      // Billable actions: proxied traffic is in the rollups with no action ('') and is left out here.
      Map<String, Map<Long, Long>> perAction = new TreeMap<>();
      List<View.ActionRow> actionRows = new ArrayList<>();
      for (UsageQueries.Bucket b : both.<List<UsageQueries.Bucket>>resultAt(1)) {
        String action = text(b.groups().get("action"));
        if (action.isEmpty()) {
          continue;
        }
        String tier = text(b.groups().get("tier"));
        long day = b.start().getEpochSecond();
        days.add(day);
        perAction.computeIfAbsent(tier.isEmpty() ? action : action + " (" + tier + ")", a -> new TreeMap<>())
            .merge(day, b.credits(), Long::sum);
        actionRows.add(new View.ActionRow(View.day(b.start()), action, tier.isEmpty() ? "—" : tier, b.quantity(),
            b.allowanceUnits(), View.units(b.credits())));
      }
      // Every day of the period so far is on the axis, those without usage at zero.
      for (Instant d = hours.from().truncatedTo(java.time.temporal.ChronoUnit.DAYS); d.isBefore(hours.to()) && days.size() < 400;
           d = d.plus(1, java.time.temporal.ChronoUnit.DAYS)) {
        days.add(d.getEpochSecond());
      }
      long projected = new UsageQueries.PeriodSummary(requests, credits, 0, null)
          .projectedCredits(account.periodStart(), account.periodEnd(), now);
      return new View.Usage(chart(days, perModel), rows, credits, View.units(credits), View.units(projected),
          View.time(account.periodEnd()), chart(days, perAction), actionRows);
    });
  }

  private static String text(Object value) {
    return value == null ? "" : value.toString();
  }

  /** The chart's JSON: the days on the x axis and one series of credits (exact decimals) per label. */
  private static String chart(TreeSet<Long> days, Map<String, Map<Long, Long>> perLabel) {
    JsonArray series = new JsonArray();
    perLabel.forEach((label, values) -> {
      JsonArray ys = new JsonArray();
      days.forEach(d -> ys.add(io.tollgate.config.Credits.json(values.getOrDefault(d, 0L))));
      series.add(new JsonObject().put("label", label).put("values", ys));
    });
    return new JsonObject().put("days", new JsonArray(new ArrayList<>(days))).put("series", series).encode();
  }

  /**
   * The plan's allowance per tier this period (tiers it includes none of are left out), cheapest
   * tier first, as the admin usage summary computes them ({@link UsageQueries#allowances}).
   */
  Future<List<View.Allowance>> allowances(Account account) {
    PlanConfig plan = config.plan(account.plan());
    Map<String, Long> prices = config.actions().tiers();
    List<String> tiers = prices.keySet().stream().filter(t -> plan.allowance(t) > 0)
        .sorted(java.util.Comparator.<String>comparingLong(prices::get).thenComparing(t -> t)).toList();
    if (tiers.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    return usage.allowances(account.id(), account.periodStart(), account.periodEnd(), plan::allowance, tiers)
        .map(all -> all.stream().map(a -> new View.Allowance(a.tier(), View.count(a.used()), View.count(a.included()),
            View.count(a.remaining()), a.percent(), a.used() > a.included())).toList());
  }

  /** Credits used this period against the allowance (spend cap, else the plan's included credits). */
  List<View.Gauge> gauges(Account account, View.Usage usage) {
    long used = usage.used();
    PlanConfig plan = config.plan(account.plan());
    long basis = AlertBasis.of(account, plan);
    if (basis <= 0) {
      return List.of();
    }
    int percent = (int) Math.min(100, used * 100 / basis);
    String label = account.spendCap() != null && account.spendCap() > 0 ? "Spend cap this period" : "Included credits this period";
    return List.of(new View.Gauge(label, usage.toDate(), View.units(basis), percent, used > basis));
  }

  Future<List<View.KeyRow>> keys(long accountId) {
    Instant now = clock.instant();
    return accounts.listKeys(accountId).map(keys -> {
      List<View.KeyRow> out = new ArrayList<>();
      for (ApiKey k : keys) {
        String status = k.toJson(now).getString("status");
        out.add(new View.KeyRow(k.id(), k.prefix() + "…" + k.last4(), k.name(), status, View.time(k.createdAt()),
            View.time(k.lastUsedAt()), View.time(k.expiresAt())));
      }
      return out;
    });
  }

  Future<List<View.Invoice>> invoices(long accountId) {
    return billing.invoices(accountId, LATEST).map(rows -> {
      List<View.Invoice> out = new ArrayList<>();
      for (JsonObject r : rows) {
        out.add(new View.Invoice(r.getString("id"), r.getString("status"), View.money(r.getValue("amountDue"), r.getString("currency")),
            r.getString("created") == null ? "—" : View.time(Instant.parse(r.getString("created"))), safeUrl(r.getString("hostedInvoiceUrl"))));
      }
      return out;
    });
  }

  Future<List<View.Notice>> notifications(long accountId) {
    return notifications.list(accountId, false, Long.MAX_VALUE, LATEST).map(rows -> {
      List<View.Notice> out = new ArrayList<>();
      for (JsonObject n : rows) {
        String kind = n.getString("kind");
        Integer threshold = n.getInteger("threshold");
        out.add(new View.Notice(n.getString("createdAt") == null ? "—" : View.time(Instant.parse(n.getString("createdAt"))),
            kind, threshold == null || threshold == 0 ? kind.replace('_', ' ') : kind.replace('_', ' ') + " at " + threshold + " %"));
      }
      return out;
    });
  }

  /** Only https links (Stripe's hosted invoice pages) become links; anything else is not rendered as one. */
  private static String safeUrl(String url) {
    return url != null && url.startsWith("https://") ? url : null;
  }
}
