package io.tollgate.config;

import static io.tollgate.config.Fixtures.load;
import static io.tollgate.config.Fixtures.problemsOf;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Redis mode and cluster seed nodes")
class RedisClusterConfigTest {

  @Test
  @DisplayName("the default is standalone; a file can ask for a cluster with comma-separated seed nodes")
  void clusterFromFile() {
    assertThat(load("").redis().mode()).isEqualTo(RedisMode.STANDALONE);
    RedisConfig redis = load("redis: { mode: cluster, url: 'redis://r1:7000, redis://r2:7000,redis://r3:7000' }").redis();
    assertThat(redis.mode()).isEqualTo(RedisMode.CLUSTER);
    assertThat(redis.seeds()).containsExactly("redis://r1:7000", "redis://r2:7000", "redis://r3:7000");
  }

  @Test
  @DisplayName("REDIS_MODE and REDIS_URL override the file, and passwords in seeds stay masked in toString")
  void clusterFromEnvironment() {
    RedisConfig redis = load("redis: { url: 'redis://single:6379' }",
        Map.of("REDIS_MODE", "cluster", "REDIS_URL", "redis://:s3cret@n1:7000,rediss://:s3cret@n2:7001")).redis();
    assertThat(redis.mode()).isEqualTo(RedisMode.CLUSTER);
    assertThat(redis.seeds()).containsExactly("redis://:s3cret@n1:7000", "rediss://:s3cret@n2:7001");
    assertThat(redis.toString()).doesNotContain("s3cret").contains("mode=cluster", "redis://:****@n1:7000,rediss://:****@n2:7001");
  }

  @Test
  @DisplayName("an unknown mode is refused with the allowed values, from the file and from REDIS_MODE")
  void unknownMode() {
    assertThat(problemsOf("redis: { mode: sentinel, url: 'redis://r:6379' }")).containsExactly(
        "tollgate.yaml: redis.mode: expected one of standalone | cluster, got \"sentinel\"");
    assertThat(problemsOf("", Map.of("REDIS_MODE", "Cluster", "REDIS_URL", "redis://r:6379"))).containsExactly(
        "environment: REDIS_MODE: expected one of standalone | cluster, got \"Cluster\"");
  }

  @Test
  @DisplayName("cluster mode without seed nodes is refused: the embedded Redis is standalone only")
  void clusterNeedsSeeds() {
    assertThat(problemsOf("redis: { mode: cluster }")).containsExactly(
        "tollgate.yaml: redis.mode: cluster needs its seed nodes in redis.url or REDIS_URL (comma-separated redis:// URLs); "
            + "the embedded Redis is standalone only");
    assertThat(problemsOf("", Map.of("REDIS_MODE", "cluster"))).containsExactly(
        "environment: REDIS_MODE: cluster needs its seed nodes in redis.url or REDIS_URL (comma-separated redis:// URLs); "
            + "the embedded Redis is standalone only");
  }

  @Test
  @DisplayName("several URLs without cluster mode are refused, naming the setting to change")
  void severalUrlsNeedClusterMode() {
    assertThat(problemsOf("", Map.of("REDIS_URL", "redis://a:7000,redis://b:7000"))).containsExactly(
        "environment: REDIS_URL: lists 2 URLs: several seed nodes need redis.mode: cluster (or REDIS_MODE=cluster)");
    assertThat(problemsOf("redis: { url: 'redis://a:7000,redis://b:7000,redis://c:7000' }")).containsExactly(
        "tollgate.yaml: redis.url: lists 3 URLs: several seed nodes need redis.mode: cluster (or REDIS_MODE=cluster)");
  }

  @Test
  @DisplayName("each seed is checked on its own: a bad one is named, masked, an empty one (a stray comma) too, and a password in the file's")
  void badSeed() {
    assertThat(problemsOf("", Map.of("REDIS_MODE", "cluster", "REDIS_URL", "redis://:pw@a:7000,b:7000"))).containsExactly(
        "environment: REDIS_URL: expected a redis:// or rediss:// URL with a host, got \"b:7000\"");
    List<String> problems = problemsOf("redis: { mode: cluster, url: 'redis://a:7000,,redis://c:7000' }");
    assertThat(problems).containsExactly(
        "tollgate.yaml: redis.url: expected a redis:// or rediss:// URL with a host, got \"\"");
    assertThat(problemsOf("redis: { mode: cluster, url: 'redis://a:7000,redis://:hunter2@b:7000' }")).containsExactly(
        "tollgate.yaml: redis.url: has a password (\"redis://:****@b:7000\"): secrets come only from the environment: "
            + "set REDIS_URL");
  }
}
