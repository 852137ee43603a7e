package io.tollgate.jmh;

import io.tollgate.metering.keys.ApiKeyFormat;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What authentication costs before the key cache is consulted: the shape-and-checksum check every
 * request makes, and the SHA-256 the cache is keyed by.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ApiKeyFormatBenchmark {

  private String valid;
  private String mistyped;

  @Setup
  public void keys() {
    valid = ApiKeyFormat.generate(ApiKeyFormat.LIVE);
    char[] c = valid.toCharArray();
    c[20] = c[20] == 'a' ? 'b' : 'a';
    mistyped = new String(c);
  }

  @Benchmark
  public ApiKeyFormat.Problem checkValid() {
    return ApiKeyFormat.check(valid);
  }

  @Benchmark
  public ApiKeyFormat.Problem checkMistyped() {
    return ApiKeyFormat.check(mistyped);
  }

  @Benchmark
  public byte[] hash() {
    return ApiKeyFormat.hash(valid);
  }
}
