package io.tollgate.gateway.console;

import io.tollgate.metering.accounts.Account;
import java.text.NumberFormat;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * What the console's templates render: one record per page, built by the handlers from what the
 * services return. Templates only read these; all text goes through jte's HTML escaping.
 */
public final class View {

  private View() {
  }

  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter DAY = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);

  /** What every page's frame shows: title, current section, the session's CSRF token, dependency banner, messages. */
  public record Chrome(String title, String section, String csrf, List<String> down, String notice, String error,
                       boolean signedIn, String unread) {
    public Chrome(String title, String section, String csrf, List<String> down, String notice, String error, boolean signedIn) {
      this(title, section, csrf, down, notice, error, signedIn, null);
    }

    public Chrome withMessages(String newNotice, String newError) {
      return new Chrome(title, section, csrf, down, newNotice, newError, signedIn, unread);
    }

    /** With the bell's unread count ("0" to "99+"), or {@code null} when it could not be read. */
    public Chrome withUnread(String count) {
      return new Chrome(title, section, csrf, down, notice, error, signedIn, count);
    }
  }

  public record SignIn(Chrome chrome, String formToken, boolean disabled) {
  }

  public record Accounts(Chrome chrome, String query, List<Account> rows, Long nextAfter, List<String> plans) {
  }

  public record KeyRow(long id, String masked, String name, String status, String createdAt, String lastUsedAt,
                       String expiresAt) {
    public boolean active() {
      return "active".equals(status);
    }
  }

  public record CreditRow(String at, String kind, String amount, String reason, String actor) {
  }

  /** One bar: used against a limit; {@code percent} is capped at 100 for the bar, {@code label} says the truth. */
  public record Gauge(String label, String used, String limit, int percent, boolean over) {
  }

  public record UsageRow(String day, String model, long requests, String credits) {
  }

  /** One billable action's day: units reported, the part its tier's allowance covered, and the credits charged. */
  public record ActionRow(String day, String action, String tier, long quantity, long fromAllowance, String credits) {
  }

  /**
   * Usage per day and model ({@code json} feeds the chart, {@code rows} the table beside it), and
   * per day, action and tier for billable actions ({@code actionsJson}, {@code actionRows}).
   */
  public record Usage(String json, List<UsageRow> rows, long used, String toDate, String projected, String periodEnd,
                      String actionsJson, List<ActionRow> actionRows) {
    public boolean empty() {
      return rows.isEmpty();
    }
  }

  /** One tier's allowance bar this period: actions used of those included, and what is left. */
  public record Allowance(String tier, String used, String included, String remaining, int percent, boolean over) {
  }

  public record Invoice(String id, String status, String amount, String created, String url) {
  }

  public record Notice(String at, String kind, String message) {
  }

  public record AccountPage(Chrome chrome, Account account, String balance, boolean enforced, List<Gauge> gauges,
                            List<Allowance> allowances,
                            Usage usage, List<KeyRow> keys, String newKey, List<CreditRow> credits,
                            List<Invoice> invoices, List<Notice> notifications, String customerLink,
                            String customerLinkExpires, List<String> plans, String once, boolean portalAvailable,
                            String portalUrl, Checkout checkout, List<String> statuses, String spendCap,
                            String lowBalanceCredits) {
  }

  /**
   * The account page's Checkout link form: shown when Stripe sells some plan ({@code available}),
   * replaced by the plan-change note when the account has a live subscription ({@code subscribed}).
   */
  public record Checkout(boolean available, boolean subscribed, boolean returnsConfigured, List<String> plans, String url) {
  }

  public record AuditRow(long id, String at, String actor, String action, String resource, String ip) {
  }

  public record Audit(Chrome chrome, String actor, String action, String resourceType, String resourceId,
                      List<AuditRow> rows, Long nextBefore, String csvHref) {
  }

  public record Stat(String label, String value, String hint) {
  }

  public record Overview(Chrome chrome, List<Stat> stats) {
  }

  public record DeadLetter(long id, Long accountId, String value, String window, Integer attempts, String lastError) {
  }

  public record WebhookEvent(String id, String type, String status, String receivedAt, Long accountId, String lastError) {
  }

  public record Stripe(Chrome chrome, List<Stat> state, List<DeadLetter> dead, List<WebhookEvent> events,
                       boolean canReconcile, String reconciliation) {
  }

  public record NotificationRow(long id, long accountId, String at, String message, String delivery, boolean unread) {
  }

  public record Notifications(Chrome chrome, boolean unreadOnly, List<NotificationRow> rows, Long nextBefore) {
  }

  public record Api(Chrome chrome) {
  }

  public record Problem(Chrome chrome, int status, String message) {
  }

  public record Customer(String title, String name, String plan, String status, String balance, List<Gauge> gauges,
                         List<Allowance> allowances,
                         Usage usage, List<KeyRow> keys, List<Invoice> invoices, String expires, List<String> down,
                         String portalAction, String billingProblem, String upgradeAction, List<String> upgradePlans,
                         String currentPlan, String once) {
  }

  // ---- formatting shared by the handlers

  /** An amount in units (millicredits, as balances, usage and limits are kept) as credits: {@code 2500} → "2.5". */
  static String units(Long units) {
    if (units == null) {
      return "—";
    }
    NumberFormat format = NumberFormat.getNumberInstance(Locale.ROOT);
    format.setMaximumFractionDigits(io.tollgate.config.Credits.SCALE);
    return format.format(io.tollgate.config.Credits.toCredits(units));
  }

  /** A money amount in the currency's smallest unit (Stripe's {@code amount_due}) as a decimal: {@link io.tollgate.config.Money}. */
  static String money(Object amount, String currency) {
    return io.tollgate.config.Money.format(amount, currency, "—");
  }

  /** A credit amount that is already in credits (a JSON value of the admin API: 43 or 2.5), grouped by thousands. */
  static String credits(Object amount) {
    if (amount == null) {
      return "—";
    }
    if (amount instanceof Long || amount instanceof Integer) {
      return NumberFormat.getIntegerInstance(Locale.ROOT).format(((Number) amount).longValue());
    }
    if (amount instanceof java.math.BigDecimal d) {
      return NumberFormat.getNumberInstance(Locale.ROOT).format(d);
    }
    return amount.toString();
  }

  /** A whole count grouped by thousands: {@code 12000} → "12,000". */
  static String count(long n) {
    return NumberFormat.getIntegerInstance(Locale.ROOT).format(n);
  }

  static String time(Instant at) {
    return at == null ? "—" : TIME.format(at);
  }

  public static String day(Instant at) {
    return DAY.format(at);
  }
}
