package io.tollgate.metering.redis;

/**
 * The Redis key layout. Every key one script touches carries the account's shard hash tag
 * ({@code {sN}}), so each script stays inside one Redis Cluster slot; the usage stream is one per
 * shard for the same reason (DESIGN.md, "Redis layout for scale-out").
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
    return tag(accountId) + "acct:" + accountId + ":credits";
  }

  /** Credits held by the account's open reservations (kept for accounts whose overage is billed). */
  public String reservedCredits(long accountId) {
    return tag(accountId) + "acct:" + accountId + ":reserved";
  }

  /** Overage credits of the account's current billing period (reset by the period rollover). */
  public String overage(long accountId) {
    return tag(accountId) + "acct:" + accountId + ":overage";
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
    return "tg:{s" + shard + "}:resv";
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
