package io.tollgate.gateway.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("Dot segments are found by an in-place scan, with the answers of the lower-case-and-split check it replaced")
class DotSegmentsTest {

  /** The check as it was: lower-case the path, split it at '/', compare each segment. */
  private static boolean legacy(String path) {
    String lower = path.toLowerCase(Locale.ROOT);
    for (String segment : lower.split("/", -1)) {
      if (segment.equals(".") || segment.equals("..") || segment.equals("%2e") || segment.equals("%2e%2e")
          || segment.equals(".%2e") || segment.equals("%2e.")) {
        return true;
      }
    }
    return false;
  }

  @Test
  @DisplayName("plain and percent-encoded dot segments anywhere in the path; dots inside names are fine")
  void examples() {
    for (String bad : List.of("/v1/../admin", "/v1/./x", "/v1/%2e%2e/x", "/v1/%2E%2e/x", "/v1/.%2E/x", "/v1/%2e./x", "/v1/x/..",
        "/v1/x/.", "..", "/.", "./v1")) {
      assertThat(ProxyVerticle.hasDotSegment(bad)).as(bad).isTrue();
    }
    for (String fine : List.of("/v1/chat/completions", "/v1/.../x", "/v1/..a/x", "/v1/a../x", "/v1/%2e%2e%2e/x", "/v1/%2f/x",
        "/v1/%2/x", "/v1/%/x", "/v1/file.json", "", "/", "//")) {
      assertThat(ProxyVerticle.hasDotSegment(fine)).as(fine).isFalse();
    }
  }

  @Test
  @DisplayName("thousands of random paths over the interesting alphabet get the old check's answer")
  void sameAnswersAsBefore() {
    String[] pieces = {"/", ".", "%", "2", "e", "E", "%2e", "%2E", "a", "İ", "K"};
    Random random = new Random(17);
    for (int i = 0; i < 50_000; i++) {
      StringBuilder path = new StringBuilder();
      int len = random.nextInt(9);
      for (int j = 0; j < len; j++) {
        path.append(pieces[random.nextInt(pieces.length)]);
      }
      String p = path.toString();
      assertThat(ProxyVerticle.hasDotSegment(p)).as(p).isEqualTo(legacy(p));
    }
  }
}
