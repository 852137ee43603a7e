package io.tollgate.embedded;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.embedded.core.ExecutableProvider;

/**
 * A real Redis Cluster on loopback for tests: {@code masters} masters with one replica each, all
 * from the redis-server binary {@link EmbeddedRedis} uses (6.2), on random ports, without
 * redis-cli. The cluster is formed over the wire the way redis-cli would: CLUSTER MEET, CLUSTER
 * ADDSLOTS (the 16,384 slots split evenly), CLUSTER REPLICATE, then a wait until every node says
 * {@code cluster_state:ok} and sees the same masters, replicas and slot owners.
 *
 * <p>Nodes keep no data on disk (no AOF, no RDB): a test cluster that restarts starts empty. The
 * node timeout is short (2 s) so an ungraceful failover (a killed master) completes within seconds.
 */
public final class EmbeddedRedisCluster implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(EmbeddedRedisCluster.class);
  public static final int SLOTS = 16_384;
  private static final int BUS_PORT_OFFSET = 10_000;
  private static final long FORM_TIMEOUT_MS = 60_000;
  static final int NODE_TIMEOUT_MS = 2_000;

  private final List<Node> nodes;
  private final Thread stopAtExit;

  /** One redis-server of the cluster. */
  public static final class Node {
    private final int port;
    private final Process process;
    private final Path dir;

    private Node(int port, Process process, Path dir) {
      this.port = port;
      this.process = process;
      this.dir = dir;
    }

    public int port() {
      return port;
    }

    public boolean alive() {
      return process.isAlive();
    }

    @Override
    public String toString() {
      return "127.0.0.1:" + port;
    }
  }

  private EmbeddedRedisCluster(List<Node> nodes) {
    this.nodes = nodes;
    this.stopAtExit = new Thread(this::stopProcesses, "embedded-redis-cluster-stop");
  }

  /** Starts and forms the cluster under {@code dir}. Blocking (a few seconds). */
  public static EmbeddedRedisCluster start(Path dir, int masters) {
    if (masters < 3) {
      throw new IllegalArgumentException("a Redis Cluster needs at least 3 masters, not " + masters);
    }
    List<Node> nodes = new ArrayList<>();
    try {
      String executable = ExecutableProvider.newJarResourceProvider().get().getAbsolutePath();
      for (int i = 0; i < masters * 2; i++) {
        nodes.add(launch(executable, dir.toAbsolutePath()));
      }
      EmbeddedRedisCluster cluster = new EmbeddedRedisCluster(nodes);
      Runtime.getRuntime().addShutdownHook(cluster.stopAtExit);
      try {
        cluster.form(masters);
      } catch (RuntimeException e) {
        cluster.close();
        throw e;
      }
      log.info("embedded Redis Cluster formed: masters {}, replicas {}", nodes.subList(0, masters), nodes.subList(masters, nodes.size()));
      return cluster;
    } catch (IOException e) {
      nodes.forEach(n -> n.process.destroyForcibly());
      throw new UncheckedIOException("could not start an embedded Redis Cluster in " + dir + ": " + e.getMessage(), e);
    }
  }

  private static Node launch(String executable, Path base) throws IOException {
    int port = FreePorts.pickWithCompanion(BUS_PORT_OFFSET);
    Path home = base.resolve("node-" + port);
    Files.createDirectories(home);
    LeftoverRedis.stopAll(home);
    Path logFile = home.resolve("redis.log");
    Process process = new ProcessBuilder(List.of(executable,
        "--port", String.valueOf(port), "--bind", "127.0.0.1", "--protected-mode", "yes",
        "--cluster-enabled", "yes", "--cluster-config-file", home.resolve("nodes.conf").toString(),
        "--cluster-node-timeout", String.valueOf(NODE_TIMEOUT_MS),
        "--dir", home.toString(), "--pidfile", home.resolve(LeftoverRedis.PID_FILE).toString(),
        "--appendonly", "no", "--save", ""))
        .directory(home.toFile())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
        .start();
    Node node = new Node(port, process, home);
    awaitUntil("redis-server on port " + port + " to listen", () -> {
      if (!process.isAlive()) {
        throw new IllegalStateException("redis-server on port " + port + " exited with code " + process.exitValue()
            + "; see " + logFile);
      }
      try (Resp ignored = Resp.open(port)) {
        return true;
      } catch (IOException notYet) {
        return false;
      }
    });
    return node;
  }

  private void form(int masters) {
    Node first = nodes.get(0);
    for (Node n : nodes.subList(1, nodes.size())) {
      expectOk(first, "CLUSTER", "MEET", "127.0.0.1", String.valueOf(n.port));
    }
    awaitUntil("every node to know all " + nodes.size() + " nodes", () -> nodes.stream().allMatch(n ->
        clusterNodes(n).stream().filter(l -> !l.contains("handshake") && !l.contains("noaddr")).count() == nodes.size()));
    for (int m = 0; m < masters; m++) {
      int from = m * SLOTS / masters;
      int to = (m + 1) * SLOTS / masters - 1;
      List<String> command = new ArrayList<>(List.of("CLUSTER", "ADDSLOTS"));
      for (int slot = from; slot <= to; slot++) {
        command.add(String.valueOf(slot));
      }
      expectOk(nodes.get(m), command.toArray(String[]::new));
    }
    for (int r = 0; r < masters; r++) {
      Node replica = nodes.get(masters + r);
      String masterId = call(nodes.get(r), "CLUSTER", "MYID");
      // The replica must have learnt the master's id through gossip first.
      awaitUntil(replica + " to know master " + masterId, () -> clusterNodes(replica).stream().anyMatch(l -> l.startsWith(masterId)));
      expectOk(replica, "CLUSTER", "REPLICATE", masterId);
    }
    awaitHealthy();
  }

  /**
   * Waits until every live node reports {@code cluster_state:ok}, agrees on which nodes are the
   * masters serving the slots, and every replica's link to its master is up.
   */
  public void awaitHealthy() {
    awaitUntil("the cluster to be healthy and every node to agree", this::healthy);
  }

  private boolean healthy() {
    List<Node> live = nodes.stream().filter(Node::alive).toList();
    String agreed = null;
    for (Node n : live) {
      if (!call(n, "CLUSTER", "INFO").contains("cluster_state:ok")) {
        return false;
      }
      // Each node's view of who is master of which slots and who replicates whom, without its own
      // "myself" flag and connection states: it must be the same on every node.
      String view = clusterNodes(n).stream()
          .map(l -> l.split(" "))
          .filter(f -> !f[2].contains("fail"))
          .map(f -> f[1].split("@")[0] + " " + (f[2].contains("master") ? "master" : "replica") + " " + f[3] + " "
              + String.join(",", List.of(f).subList(Math.min(8, f.length), f.length)))
          .sorted().collect(Collectors.joining(";"));
      if (agreed == null) {
        agreed = view;
      } else if (!agreed.equals(view)) {
        return false;
      }
      String role = call(n, "INFO", "replication");
      if (role.contains("role:slave") && !role.contains("master_link_status:up")) {
        return false;
      }
    }
    return true;
  }

  /** Every node, masters first as started (roles change with failovers). */
  public List<Node> nodes() {
    return List.copyOf(nodes);
  }

  /** The seed list in the form Tollgate's {@code REDIS_URL} takes in cluster mode. */
  public String seeds() {
    return nodes.stream().map(n -> "redis://127.0.0.1:" + n.port).collect(Collectors.joining(","));
  }

  /** The current master of {@code key}'s slot, as the live nodes see it. */
  public Node masterOf(String key) {
    return byAddress(masterLine(key)[1]);
  }

  /** A replica of the current master of {@code key}'s slot. */
  public Node replicaOf(String key) {
    String[] master = masterLine(key);
    String[] replica = nodeLines().stream().filter(f -> f[3].equals(master[0]) && !f[2].contains("fail")).findFirst()
        .orElseThrow(() -> new IllegalStateException("the master of " + key + " has no live replica"));
    return byAddress(replica[1]);
  }

  private String[] masterLine(String key) {
    Node any = nodes.stream().filter(Node::alive).findFirst().orElseThrow();
    long slot = Long.parseLong(call(any, "CLUSTER", "KEYSLOT", key));
    return nodeLines().stream()
        .filter(f -> f[2].contains("master") && !f[2].contains("fail") && owns(f, slot))
        .findFirst().orElseThrow(() -> new IllegalStateException("no master serves slot " + slot));
  }

  private List<String[]> nodeLines() {
    Node any = nodes.stream().filter(Node::alive).findFirst().orElseThrow();
    return clusterNodes(any).stream().map(l -> l.split(" ")).toList();
  }

  private static boolean owns(String[] fields, long slot) {
    for (int i = 8; i < fields.length; i++) {
      String[] range = fields[i].split("-");
      if (range[0].startsWith("[")) {
        continue;
      }
      long from = Long.parseLong(range[0]);
      long to = range.length == 2 ? Long.parseLong(range[1]) : from;
      if (slot >= from && slot <= to) {
        return true;
      }
    }
    return false;
  }

  private Node byAddress(String address) {
    int port = Integer.parseInt(address.split("@")[0].split(":")[1]);
    return nodes.stream().filter(n -> n.port == port).findFirst().orElseThrow();
  }

  /**
   * A graceful failover: CLUSTER FAILOVER on {@code replica}, which first catches up with its
   * master's replication stream, then takes over its slots. Returns once every node agrees.
   */
  public void failover(Node replica) {
    expectOk(replica, "CLUSTER", "FAILOVER");
    awaitUntil(replica + " to become a master", () -> call(replica, "INFO", "replication").contains("role:master"));
    awaitHealthy();
  }

  /** Kills a node (SIGKILL): an ungraceful failure, as of a crashed host. */
  public void kill(Node node) {
    node.process.destroyForcibly();
    try {
      node.process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Sends one command to one node and returns its reply as text (arrays: one element a line). */
  public String call(Node node, String... command) {
    try (Resp resp = Resp.open(node.port)) {
      return resp.call(command);
    } catch (IOException e) {
      throw new UncheckedIOException("Redis node " + node + " did not answer " + command[0] + ": " + e.getMessage(), e);
    }
  }

  /** {@link #call}, on a connection that first sent READONLY: a replica then answers reads of its slots. */
  public String callReadOnly(Node node, String... command) {
    try (Resp resp = Resp.open(node.port)) {
      String ok = resp.call("READONLY");
      if (!"OK".equals(ok)) {
        throw new IllegalStateException("READONLY on " + node + " answered " + ok);
      }
      return resp.call(command);
    } catch (IOException e) {
      throw new UncheckedIOException("Redis node " + node + " did not answer " + command[0] + ": " + e.getMessage(), e);
    }
  }

  private void expectOk(Node node, String... command) {
    String reply = call(node, command);
    if (!"OK".equals(reply)) {
      throw new IllegalStateException(String.join(" ", List.of(command).subList(0, 2)) + " on " + node + " answered " + reply);
    }
  }

  private List<String> clusterNodes(Node node) {
    return call(node, "CLUSTER", "NODES").lines().filter(l -> !l.isBlank()).toList();
  }

  @Override
  public void close() {
    stopProcesses();
    try {
      Runtime.getRuntime().removeShutdownHook(stopAtExit);
    } catch (IllegalStateException shuttingDown) {
      // the JVM is exiting: the hook stops the processes (idempotent)
    }
  }

  private void stopProcesses() {
    for (Node n : nodes) {
      n.process.destroy();
    }
    for (Node n : nodes) {
      try {
        if (!n.process.waitFor(30, TimeUnit.SECONDS)) {
          n.process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        n.process.destroyForcibly();
      }
    }
  }

  private static void awaitUntil(String what, BooleanSupplier condition) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FORM_TIMEOUT_MS);
    while (System.nanoTime() < deadline) {
      if (condition.getAsBoolean()) {
        return;
      }
      try {
        Thread.sleep(50);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for " + what, e);
      }
    }
    throw new IllegalStateException("timed out after " + FORM_TIMEOUT_MS + " ms waiting for " + what);
  }

  /** The smallest RESP2 client that forms a cluster: one command, one reply, then closed. */
  private static final class Resp implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private Resp(Socket socket) throws IOException {
      this.socket = socket;
      this.in = new BufferedInputStream(socket.getInputStream());
      this.out = socket.getOutputStream();
    }

    static Resp open(int port) throws IOException {
      Socket socket = new Socket();
      try {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 500);
        socket.setSoTimeout(5_000);
        return new Resp(socket);
      } catch (IOException e) {
        socket.close();
        throw e;
      }
    }

    String call(String... command) throws IOException {
      StringBuilder request = new StringBuilder("*").append(command.length).append("\r\n");
      for (String part : command) {
        byte[] bytes = part.getBytes(StandardCharsets.UTF_8);
        request.append('$').append(bytes.length).append("\r\n").append(part).append("\r\n");
      }
      out.write(request.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      return read();
    }

    private String read() throws IOException {
      String line = line();
      char type = line.charAt(0);
      String rest = line.substring(1);
      switch (type) {
        case '+', ':' -> {
          return rest;
        }
        case '-' -> {
          return "ERR:" + rest;
        }
        case '$' -> {
          int length = Integer.parseInt(rest);
          if (length < 0) {
            return "";
          }
          byte[] data = in.readNBytes(length + 2);
          return new String(data, 0, length, StandardCharsets.UTF_8);
        }
        case '*' -> {
          int count = Integer.parseInt(rest);
          List<String> items = new ArrayList<>();
          for (int i = 0; i < count; i++) {
            items.add(read());
          }
          return String.join("\n", items);
        }
        default -> throw new IOException("unexpected RESP reply: " + line);
      }
    }

    private String line() throws IOException {
      StringBuilder sb = new StringBuilder();
      int c;
      while ((c = in.read()) != -1) {
        if (c == '\r') {
          in.read(); // '\n'
          return sb.toString();
        }
        sb.append((char) c);
      }
      throw new IOException("connection closed mid-reply");
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
