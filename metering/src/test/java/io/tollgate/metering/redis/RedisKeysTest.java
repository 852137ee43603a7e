package io.tollgate.metering.redis;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

class RedisKeysTest {

  private final RedisKeys keys = new RedisKeys(16);

  @Test
  @DisplayName("an ingest event's marker is named by the first 16 bytes of SHA-256 of the client's id, in the account's shard")
  void ingestEventKey() {
    // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a396177a9cb410ff61f20015ad (FIPS 180-2 test vector).
    assertThat(keys.ingestEvent(23, "abc")).isEqualTo("tg:{s7}:acct:23:evt:ba7816bf8f01cfea414140de5dae2223");
  }

  @Test
  @DisplayName("a proxied request (no event id) names the marker of the empty id's digest, in its account's shard")
  void emptyEventId() {
    // SHA-256("") = e3b0c44298fc1c149afbf4c8996fb924 27ae41e4649b934ca495991b7852b855.
    assertThat(keys.ingestEvent(23, "")).isEqualTo("tg:{s7}:acct:23:evt:e3b0c44298fc1c149afbf4c8996fb924");
    assertThat(keys.ingestEvent(5, "")).isEqualTo("tg:{s5}:acct:5:evt:e3b0c44298fc1c149afbf4c8996fb924");
  }
}
