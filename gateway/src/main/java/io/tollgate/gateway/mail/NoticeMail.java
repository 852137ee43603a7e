package io.tollgate.gateway.mail;

import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a notice says by email: a subject and the same lines as plain text and as HTML. Each kind
 * reads only the payload fields named here — amounts, plan names, dates, links Stripe made for the
 * customer — so nothing else a payload may carry (and never a key or a secret: no payload holds
 * one, and none would be read) reaches a mail.
 */
public record NoticeMail(String subject, String text, String html) {

  /** The mail for a notice of {@code kind}; {@code accountName} greets the reader. */
  public static NoticeMail of(String kind, String accountName, JsonObject p) {
    List<String> lines = new ArrayList<>();
    String subject;
    switch (kind) {
      case "usage_threshold" -> {
        subject = "You have used " + p.getValue("threshold") + "% of your credits this period";
        lines.add("Your account has used " + p.getValue("usedCredits") + " of " + p.getValue("allowanceCredits") + " credits ("
            + p.getValue("threshold") + "%) in the current billing period.");
        lines.add(period(p));
      }
      case "low_balance" -> {
        subject = "Your credit balance is low";
        lines.add("Your balance is " + p.getValue("balanceCredits") + " credits, below your alert level of "
            + p.getValue("lowBalanceCredits") + ".");
        lines.add("Top up to keep your requests going.");
      }
      case "trial_will_end" -> {
        subject = "Your trial ends soon";
        lines.add("Your trial of the " + p.getValue("plan") + " plan ends on " + p.getValue("trialEnd") + ".");
        lines.add("Add a payment method to keep the plan after the trial.");
      }
      case "payment_failed" -> {
        subject = "Your payment failed";
        lines.add("We could not collect " + money(p.getValue("amountDue"), p.getString("currency")) + " for your "
            + p.getValue("plan") + " plan (attempt " + p.getValue("attempt") + ").");
        lines.add("Your plan stays active until " + p.getValue("graceUntil") + "; after that the account moves to the free plan.");
        if (p.getString("hostedInvoiceUrl") != null) {
          lines.add("Pay the invoice: " + p.getString("hostedInvoiceUrl"));
        }
      }
      case "grace_ending" -> {
        subject = "Your " + p.getValue("plan") + " plan ends soon";
        lines.add("Your payment is still outstanding. On " + p.getValue("graceUntil") + " your account moves from the "
            + p.getValue("plan") + " plan to the " + p.getValue("to") + " plan.");
        lines.add("Pay the open invoice or update your payment method to keep the plan.");
      }
      case "plan_downgraded" -> {
        subject = "Your plan was changed to " + p.getValue("to");
        lines.add("Your account moved from the " + p.getValue("from") + " plan to the " + p.getValue("to") + " plan: "
            + p.getValue("reason") + ".");
        lines.add("Pay the open invoice or subscribe again to get the plan back.");
      }
      case "top_up_receipt" -> {
        subject = "Receipt: " + p.getValue("credits") + " credits added";
        lines.add((Boolean.TRUE.equals(p.getBoolean("automatic")) ? "Your automatic top-up" : "Your purchase") + " of the "
            + p.getValue("pack") + " pack added " + p.getValue("credits") + " credits to your account, for "
            + money(p.getValue("amount"), p.getString("currency")) + ".");
        if (p.getString("paymentIntent") != null) {
          lines.add("Payment reference: " + p.getString("paymentIntent"));
        }
      }
      case "top_up_failed" -> {
        subject = "Your automatic top-up failed";
        lines.add("We could not charge " + money(p.getValue("amount"), p.getString("currency")) + " for the " + p.getValue("pack")
            + " pack. Automatic top-up is paused until the payment method changes.");
      }
      default -> throw new IllegalArgumentException("no mail for notice kind " + kind);
    }
    String greeting = "Hello " + accountName + ",";
    StringBuilder text = new StringBuilder(greeting).append("\n\n");
    StringBuilder html = new StringBuilder("<!doctype html><html><body><p>").append(escape(greeting)).append("</p>");
    for (String line : lines) {
      if (line.isEmpty()) {
        continue;
      }
      text.append(line).append("\n\n");
      html.append("<p>").append(escape(line)).append("</p>");
    }
    text.append("-- \nYou get this email because of your account's notification settings.\n");
    html.append("<p style=\"color:#666\">You get this email because of your account's notification settings.</p></body></html>");
    return new NoticeMail(subject, text.toString(), html.toString());
  }

  private static String period(JsonObject p) {
    JsonObject period = p.getJsonObject("period");
    return period == null ? "" : "Period: " + period.getValue("start") + " to " + period.getValue("end") + ".";
  }

  /** Stripe's amount in the currency's smallest unit, shown as the console shows it ({@link io.tollgate.config.Money}). */
  static String money(Object minorUnits, String currency) {
    return io.tollgate.config.Money.format(minorUnits, currency, "the amount due");
  }

  private static final Map<Character, String> ENTITIES = Map.of('<', "&lt;", '>', "&gt;", '&', "&amp;", '"', "&quot;", '\'', "&#39;");

  static String escape(String s) {
    StringBuilder out = new StringBuilder(s.length());
    for (char c : s.toCharArray()) {
      String e = ENTITIES.get(c);
      out.append(e != null ? e : String.valueOf(c));
    }
    return out.toString();
  }
}
