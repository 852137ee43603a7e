package io.tollgate.config;

import java.util.Optional;

/**
 * Email of notifications over SMTP ({@code alerts.email:} in the file). Mail is off unless
 * {@code host} is set; the password comes only from {@code TOLLGATE_SMTP_PASSWORD}.
 *
 * @param host     the SMTP server; {@code null}: mail is off
 * @param from     the sender address, required with a host
 * @param username SMTP AUTH user, {@code null} for none
 * @param startTls {@code disabled}, {@code optional} (when the server offers it) or {@code required}
 * @param ssl      TLS from the first byte (port 465) instead of STARTTLS
 */
public record MailConfig(String host, int port, String from, String username, Optional<Secret> password, String startTls,
                         boolean ssl) {

  public static MailConfig off() {
    return new MailConfig(null, Defaults.SMTP_PORT, null, null, Optional.empty(), "optional", false);
  }

  public boolean enabled() {
    return host != null;
  }
}
