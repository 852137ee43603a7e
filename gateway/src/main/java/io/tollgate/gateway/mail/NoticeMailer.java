package io.tollgate.gateway.mail;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.tollgate.config.AlertsConfig;
import io.tollgate.config.MailConfig;
import io.tollgate.metering.alerts.NoticeEmails;
import io.tollgate.metering.alerts.NoticeEmails.Due;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.ext.mail.LoginOption;
import io.vertx.ext.mail.MailClient;
import io.vertx.ext.mail.MailMessage;
import io.vertx.ext.mail.StartTLSOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Emails the notices that are due ({@link NoticeEmails}): plain text and HTML, to the account's
 * recipients (else its Stripe customer's email), unless it opted out of the kind. One mail per
 * notice: a notice is claimed before it is sent and never claimed twice; an SMTP failure (the
 * server accepted nothing) is retried with the alerts' backoff up to {@code alerts.maxAttempts}.
 * Off when {@code alerts.email.host} is not set. Recipients' addresses are not logged.
 */
public final class NoticeMailer {

  private static final Logger log = LoggerFactory.getLogger(NoticeMailer.class);
  private static final int BATCH = 20;

  private final NoticeEmails emails;
  private final AlertsConfig config;
  private final MailClient client;
  private final Counter sent;
  private final Counter failures;

  public NoticeMailer(Vertx vertx, NoticeEmails emails, AlertsConfig config, MeterRegistry registry) {
    this.emails = emails;
    this.config = config;
    MailConfig m = config.email();
    this.client = m.enabled() ? MailClient.create(vertx, smtp(m, config)) : null;
    this.sent = Counter.builder("tollgate_notice_emails_sent").description("Notices emailed (the SMTP server accepted them)")
        .register(registry);
    this.failures = Counter.builder("tollgate_notice_email_failures").description("Notice emails given up after every attempt failed")
        .register(registry);
  }

  private static io.vertx.ext.mail.MailConfig smtp(MailConfig m, AlertsConfig a) {
    io.vertx.ext.mail.MailConfig c = new io.vertx.ext.mail.MailConfig().setHostname(m.host()).setPort(m.port()).setSsl(m.ssl())
        .setStarttls(StartTLSOptions.valueOf(m.startTls().toUpperCase(Locale.ROOT))).setKeepAlive(false)
        .setLogin(m.username() == null ? LoginOption.DISABLED : LoginOption.REQUIRED);
    c.setConnectTimeout((int) Math.min(Integer.MAX_VALUE, a.timeout().toMillis()));
    if (m.username() != null) {
      c.setUsername(m.username()).setPassword(m.password().map(p -> p.reveal()).orElse(null));
    }
    return c;
  }

  /** Sends what is due; returns how many mails the server accepted in this pass. */
  public Future<Integer> sendDue() {
    if (client == null) {
      return Future.succeededFuture(0);
    }
    // A claim older than a few SMTP timeouts belongs to an instance that stopped mid-send.
    double stale = Math.max(60, config.timeout().toSeconds() * 6.0);
    return emails.abandon(stale).compose(v -> emails.claim(BATCH)).compose(due -> {
      List<Future<Boolean>> sends = new ArrayList<>();
      for (Due d : due) {
        sends.add(send(d));
      }
      return Future.join(sends).transform(ar -> {
        int ok = 0;
        for (Future<Boolean> f : sends) {
          if (f.failed()) {
            log.warn("notice email bookkeeping failed (the claim stays until abandoned): {}", f.cause().toString());
          }
          ok += f.succeeded() && f.result() ? 1 : 0;
        }
        return Future.succeededFuture(ok);
      });
    });
  }

  private Future<Boolean> send(Due d) {
    if (d.optedOut()) {
      return emails.skipped(d.id(), "the account opted out of " + d.kind() + " mails").map(false);
    }
    if (d.recipients().isEmpty()) {
      return emails.skipped(d.id(), "no recipient: set the account's email recipients, or its Stripe customer's email").map(false);
    }
    NoticeMail mail = NoticeMail.of(d.kind(), d.accountName(), d.payload());
    MailMessage message = new MailMessage().setFrom(config.email().from()).setTo(d.recipients()).setSubject(mail.subject())
        .setText(mail.text()).setHtml(mail.html());
    message.addHeader("X-Tollgate-Notification-Id", Long.toString(d.id()));
    return client.sendMail(message).compose(r -> {
      sent.increment();
      log.info("notification {} ({}) of account {} emailed to {} recipient(s)", d.id(), d.kind(), d.accountId(), d.recipients().size());
      return emails.sent(d.id(), d.recipients()).map(true);
    }, err -> {
      String error = err.getClass().getSimpleName() + (err.getMessage() == null ? "" : ": " + err.getMessage());
      double base = config.retryBase().toMillis() / 1000.0;
      return emails.failed(d.id(), error, config.maxAttempts(), base).map(gaveUp -> {
        if (gaveUp) {
          failures.increment();
          log.warn("notification {} of account {}: email given up after {} attempts: {}", d.id(), d.accountId(), d.attempt(), error);
        } else {
          log.info("notification {} of account {}: email attempt {} failed, retrying: {}", d.id(), d.accountId(), d.attempt(), error);
        }
        return false;
      });
    });
  }

  public Future<Void> close() {
    return client == null ? Future.succeededFuture() : client.close();
  }
}
