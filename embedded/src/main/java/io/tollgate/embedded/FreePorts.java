package io.tollgate.embedded;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A free port for a local server that must be told its port before it binds (embedded Redis and
 * Postgres, gateways started with port 0).
 *
 * <p>Ports come from below the kernel's ephemeral range, never from {@code new ServerSocket(0)}:
 * an ephemeral port can later be handed to an outgoing connection as its local port, and a
 * client that connects to port P from local port P on loopback connects to itself (TCP
 * simultaneous open) and waits forever for an answer. Outgoing connections never get ports below
 * the ephemeral range, so servers there cannot meet that fate.
 */
public final class FreePorts {

  private static final int LOWEST = 15_000;
  /**
   * Ports this JVM has handed out: a port is free when picked but not reserved until its server
   * binds, so without this two picks in a row (a gateway's proxy and admin ports, a cluster's
   * nodes) could return the same port and one bind would fail with "Address already in use".
   */
  private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private FreePorts() {
  }

  public static int pick() {
    int ephemeralLow = ephemeralRangeStart();
    int high = Math.max(LOWEST + 1_000, ephemeralLow);
    ThreadLocalRandom random = ThreadLocalRandom.current();
    for (int attempt = 0; attempt < 200; attempt++) {
      int port = random.nextInt(LOWEST, high);
      if (isFree(port) && HANDED_OUT.add(port)) {
        return port;
      }
    }
    throw new IllegalStateException("no free port found between " + LOWEST + " and " + high);
  }

  /**
   * A free port P whose P + {@code offset} is free too, both below the ephemeral range: a Redis
   * Cluster node listens on P and on its cluster bus port P + 10000 (Redis 6.2 has no setting for it).
   */
  public static int pickWithCompanion(int offset) {
    int ephemeralLow = ephemeralRangeStart();
    int high = Math.max(LOWEST + 1_000, ephemeralLow - offset);
    ThreadLocalRandom random = ThreadLocalRandom.current();
    for (int attempt = 0; attempt < 400; attempt++) {
      int port = random.nextInt(LOWEST, high);
      if (isFree(port) && isFree(port + offset) && !HANDED_OUT.contains(port + offset) && HANDED_OUT.add(port)) {
        HANDED_OUT.add(port + offset);
        return port;
      }
    }
    throw new IllegalStateException("no free port pair (P, P+" + offset + ") found between " + LOWEST + " and " + high);
  }

  private static boolean isFree(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(false);
      socket.bind(new InetSocketAddress(InetAddress.getByName("0.0.0.0"), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Linux's ip_local_port_range start; 32768 (its usual default) elsewhere. Read line by line:
   * {@code Files.readString} trusts the size a /proc file reports and returned only "3" of
   * "32768 60999" here, which shrank the range to 1,000 ports and made bind collisions common.
   */
  static int ephemeralRangeStart() {
    try (java.io.BufferedReader reader = Files.newBufferedReader(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))) {
      String range = reader.readLine().trim();
      return Integer.parseInt(range.split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 32_768;
    }
  }
}
