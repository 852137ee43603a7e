package io.tollgate.embedded;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Embedded Redis on SIGTERM")
class EmbeddedRedisShutdownTest {

  @Test
  @DisplayName("keeps answering while the JVM's shutdown hooks drain after SIGTERM, and is gone once closed")
  void survivesUntilClosed() throws Exception {
    Path dir = Files.createTempDirectory("tollgate-redis-shutdown-");
    Path output = dir.resolve("child.out");
    Path result = dir.resolve("result");
    String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"), Child.class.getName(),
        dir.resolve("redis").toString(), result.toString())
        .redirectErrorStream(true).redirectOutput(output.toFile()).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.readString(output).contains(Child.READY)) {
        assertThat(child.isAlive()).as("child exited early:\n%s", Files.readString(output)).isTrue();
        assertThat(System.nanoTime()).as("child never reported Redis ready").isLessThan(deadline);
        child.waitFor(50, TimeUnit.MILLISECONDS); // returns at once if the child exits
      }
      int port = Integer.parseInt(Files.readString(output).split(Child.READY)[1].trim().split("\\s")[0]);

      child.destroy(); // SIGTERM, as an orchestrator stops a container
      assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();

      assertThat(Files.readString(result)).isEqualTo("+PONG");
      assertThatThrownBy(() -> new Socket("127.0.0.1", port).close()).isInstanceOf(IOException.class);
    } finally {
      child.destroyForcibly();
      try (var walk = Files.walk(dir)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  /**
   * Starts Redis and, like Tollgate's shutdown hook, still uses it during a drain after SIGTERM: it
   * pings Redis throughout a 1.5 s drain (the claim is about a duration: Redis must outlast the
   * other shutdown hooks, which run concurrently and cannot be observed) and writes the first
   * failure, or the last answer.
   */
  static final class Child {
    static final String READY = "redis-ready-on-port ";

    public static void main(String[] args) throws Exception {
      EmbeddedRedis redis = EmbeddedRedis.start(Path.of(args[0]), 0);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        String reply = "no ping";
        long drainEnds = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1_500);
        try {
          while (System.nanoTime() < drainEnds && !"connection closed".equals(reply)) {
            reply = ping(redis.port());
          }
        } catch (Exception e) {
          reply = e.toString();
        }
        try {
          Files.writeString(Path.of(args[1]), reply);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
        redis.close();
      }));
      System.out.println(READY + redis.port());
      System.out.flush();
      new java.util.concurrent.CountDownLatch(1).await(); // until SIGTERM
    }

    private static String ping(int port) throws IOException {
      try (Socket socket = new Socket("127.0.0.1", port)) {
        OutputStream out = socket.getOutputStream();
        out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        String line = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII)).readLine();
        return line == null ? "connection closed" : line;
      }
    }
  }
}
