package io.tollgate.metering.redis;

/**
 * The Redis key layout. Every key one script touches carries the account's shard hash tag
 * ({@code {sN}}), so each script stays inside one Redis Cluster slot; the usage stream is one per
 * shard for the same reason (DESIGN.md, "Redis layout for scale-out").
 *
 * <p>Every key that holds money (balance, credits held by reservations, overage, the reservations
 * set whose members carry what they hold) ends in {@code :mc}: its numbers are millicredits
 * ({@code io.tollgate.config.Credits}). Versions before the unit held whole credits under the same
 * names without the suffix; the new names guarantee such a key is never read as units. Those
 * balances are rebuilt from the Postgres ledger (migrated to units by V10) on first use, and the
 * old keys are left for the operator to delete (docs/operations.md, "Upgrading to millicredits").
 */
public final class RedisKeys {

  private final int shards;

  public RedisKeys(int shards) {
    if (shards < 1) {
      throw new IllegalArgumentException("shards must be ≥ 1");
    }
    this.shards = shards;
  }

  public int shards() {
    return shards;
  }

  public int shardOf(long accountId) {
    return (int) Math.floorMod(accountId, (long) shards);
  }

  private String tag(long accountId) {
    return "tg:{s" + shardOf(accountId) + "}:";
  }

  public String credits(long accountId) {
    return tag(accountId) + "acct:" + accountId + ":credits:mc";
  }

  /** Credits held by the account's open reservations (kept for accounts whose overage is billed). */
  public String reservedCredits(long accountId) {
    return tag(accountId) + "acct:" + accountId + ":reserved:mc";
  }

  /** Overage credits of the account's current billing period (reset by the period rollover). */
  public String overage(long accountId) {
    return tag(accountId) + "acct:" + accountId + ":overage:mc";
  }

  /** Billable actions: allowance units used per tier this period, and the period's generation ({@code @gen}). */
  public String allowances(long accountId) {
    return tag(accountId) + "acct:" + accountId + ":allow";
  }

  /**
   * Billable actions: the marker that an event id was admitted (idempotency). The client's id is
   * hashed, so the key's length does not depend on what a client sends.
   */
  public String ingestEvent(long accountId, String clientEventId) {
    byte[] digest = io.tollgate.metering.Sha256.of(clientEventId.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return tag(accountId) + "acct:" + accountId + ":evt:" + java.util.HexFormat.of().formatHex(digest, 0, 16);
  }

  public String accountRequests(long accountId) {
    return tag(accountId) + "acct:" + accountId + ":rpm";
  }

  public String accountTokens(long accountId) {
    return tag(accountId) + "acct:" + accountId + ":tpm";
  }

  public String keyRequests(long accountId, long keyId) {
    return tag(accountId) + "key:" + keyId + ":rpm";
  }

  public String keyTokens(long accountId, long keyId) {
    return tag(accountId) + "key:" + keyId + ":tpm";
  }

  /** A key's credit spend in one budget window ({@code life}, or {@code p<period start>}), in its account's slot. */
  public String keySpend(long accountId, long spendKeyId, String window) {
    return tag(accountId) + "key:" + spendKeyId + ":spend:" + window;
  }

  public String reservations(long accountId) {
    return reservationsOfShard(shardOf(accountId));
  }

  public String reservationsOfShard(int shard) {
    return "tg:{s" + shard + "}:resv:mc";
  }

  public String usageStream(long accountId) {
    return usageStreamOfShard(shardOf(accountId));
  }

  public String usageStreamOfShard(int shard) {
    return "tg:{s" + shard + "}:usage";
  }

  /** Pub/sub channel on which key revocations (hex SHA-256) reach every instance. */
  public static final String KEY_EVENTS_CHANNEL = "tg:keys:revoked";
}
