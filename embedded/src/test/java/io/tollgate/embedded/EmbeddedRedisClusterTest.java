package io.tollgate.embedded;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Embedded Redis Cluster")
class EmbeddedRedisClusterTest {

  @Test
  @DisplayName("forms three masters with a replica each over all 16,384 slots, redirects a key to its owner, and fails over gracefully without losing it")
  void formsAndFailsOver() throws Exception {
    Path dir = Files.createTempDirectory(Path.of("target"), "redis-cluster-");
    try (EmbeddedRedisCluster cluster = EmbeddedRedisCluster.start(dir, 3)) {
      EmbeddedRedisCluster.Node any = cluster.nodes().get(0);
      String info = cluster.call(any, "CLUSTER", "INFO");
      assertThat(info).contains("cluster_state:ok", "cluster_slots_assigned:16384", "cluster_known_nodes:6", "cluster_size:3");
      assertThat(cluster.seeds().split(",")).hasSize(6).allMatch(s -> s.startsWith("redis://127.0.0.1:"));

      String key = "tg:{s3}:probe";
      EmbeddedRedisCluster.Node master = cluster.masterOf(key);
      EmbeddedRedisCluster.Node replica = cluster.replicaOf(key);
      assertThat(replica).isNotEqualTo(master);
      assertThat(cluster.call(master, "SET", key, "42")).isEqualTo("OK");
      EmbeddedRedisCluster.Node other = cluster.nodes().stream().limit(3).filter(n -> n != master).findFirst().orElseThrow();
      assertThat(cluster.call(other, "GET", key)).startsWith("ERR:MOVED ").endsWith(":" + master.port());

      cluster.failover(replica);
      assertThat(cluster.masterOf(key)).isEqualTo(replica);
      assertThat(cluster.replicaOf(key)).isEqualTo(master);
      assertThat(cluster.call(replica, "GET", key)).isEqualTo("42");
    }
  }
}
