package io.tollgate.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("FreePorts never hands the same port out twice in one JVM")
class FreePortsTest {

  @Test
  @DisplayName("the ephemeral range's start is read whole from /proc (Files.readString read only its first digit)")
  void ephemeralRangeRead() throws Exception {
    java.nio.file.Path range = java.nio.file.Path.of("/proc/sys/net/ipv4/ip_local_port_range");
    org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isReadable(range), "not Linux: no /proc port range");
    String expected = java.nio.file.Files.readAllLines(range).get(0).trim().split("\\s+")[0];
    assertThat(FreePorts.ephemeralRangeStart()).isEqualTo(Integer.parseInt(expected));
  }

  @Test
  @DisplayName("2,000 picks in a row (nothing binds them) are 2,000 different ports, all below the ephemeral range")
  void distinctWithoutBinding() {
    Set<Integer> seen = new HashSet<>();
    for (int i = 0; i < 2_000; i++) {
      int port = FreePorts.pick();
      assertThat(seen.add(port)).as("port %d handed out twice", port).isTrue();
      assertThat(port).isBetween(15_000, 65_535);
    }
  }

  @Test
  @DisplayName("a port and its companion (P, P + 10000) are never handed out again, alone or as a pair")
  void companionsAreReserved() {
    Set<Integer> seen = new HashSet<>();
    for (int i = 0; i < 200; i++) {
      int port = FreePorts.pickWithCompanion(10_000);
      assertThat(seen.add(port)).isTrue();
      assertThat(seen.add(port + 10_000)).isTrue();
    }
    for (int i = 0; i < 500; i++) {
      assertThat(seen).doesNotContain(FreePorts.pick());
    }
  }
}
