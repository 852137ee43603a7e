package io.tollgate.gateway.console;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Signed, expiring links to one account's customer page. The token names the account and the
 * expiry and is signed with a key derived from the admin token: the page reads the account from
 * the verified token only, so nothing else in a URL can point it at another account. Changing
 * the admin token revokes every link; one link is revoked by listing it ({@code Revocations}).
 */
public final class CustomerLinks {

  /** The longest a link may stay valid. */
  public static final Duration MAX_TTL = Duration.ofDays(30);
  public static final Duration DEFAULT_TTL = Duration.ofDays(7);
  static final String PATH = "/console/customer/";

  private final Signer signer;
  private final Clock clock;

  CustomerLinks(String adminToken, Clock clock) {
    this.signer = new Signer(adminToken, "customer-link");
    this.clock = clock;
  }

  /**
   * A link token: {@code c1.<accountId>.<expiresEpochSeconds>.<nonce>.<signature>}; the nonce makes
   * every link its own, so revoking one leaves the account's other links working.
   */
  public record Link(long accountId, Instant expiresAt, String token) {
    public String path() {
      return PATH + token;
    }
  }

  Link create(long accountId, Duration ttl) {
    Instant expires = clock.instant().plus(ttl).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    String payload = "c1." + accountId + "." + expires.getEpochSecond() + "." + Signer.random(9);
    return new Link(accountId, expires, payload + "." + signer.sign(payload));
  }

  /** A token whose signature holds and that has not expired (whether it was revoked is checked apart). */
  record Verified(long accountId, Instant expiresAt, String signature) {
    /** Its name in the revocation list. */
    String tokenId() {
      return "customer-link:" + signature;
    }
  }

  /** The token, if it is signed and unexpired. */
  Optional<Verified> verify(String token) {
    if (token == null || token.length() > 200) {
      return Optional.empty();
    }
    String[] parts = token.split("\\.");
    if (parts.length != 5 || !parts[0].equals("c1")) {
      return Optional.empty();
    }
    if (!signer.verify(parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3], parts[4])) {
      return Optional.empty();
    }
    try {
      long account = Long.parseLong(parts[1]);
      long expires = Long.parseLong(parts[2]);
      return expires > clock.instant().getEpochSecond()
          ? Optional.of(new Verified(account, Instant.ofEpochSecond(expires), parts[4])) : Optional.empty();
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }
}
