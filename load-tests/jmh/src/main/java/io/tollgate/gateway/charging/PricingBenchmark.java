package io.tollgate.gateway.charging;

import io.tollgate.config.ModelPrice;
import io.tollgate.config.PricingConfig;
import io.tollgate.metering.admission.Pricing;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/** The integer cost of one request from its tokens: a listed model and an unlisted one (default price). */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class PricingBenchmark {

  private final Pricing pricing = new Pricing(new PricingConfig(Map.of(
      "gpt-4o-mini", new ModelPrice(150, 600), "gpt-4o", new ModelPrice(2500, 10000),
      "claude-3-5-haiku", new ModelPrice(800, 4000)), new ModelPrice(1000, 1000)));
  private String listed = "gpt-4o-mini";
  private String unlisted = "some-other-model";
  private long input = 1234;
  private long output = 567;

  @Benchmark
  public long listedModel() {
    return pricing.cost(listed, input, output, 0);
  }

  @Benchmark
  public long unlistedModel() {
    return pricing.cost(unlisted, input, output, 2);
  }
}
