package io.tollgate.gateway.ops;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code tollgate_admin_responses_total{area, status}}: every response of the admin port, by what
 * was asked (the admin API, the console, health checks, the metrics scrape, anything else) and
 * status class. Vert.x's own HTTP server meters are off for their per-request cost on the proxy
 * port (issue 18); this keeps the admin port's traffic and errors visible. All 25 series exist
 * from the start, so a dashboard or an alert never reads a missing one.
 */
final class AdminResponses {

  private static final String[] AREAS = {"api", "console", "health", "metrics", "other"};

  /** [area][status class 1-5 → 0-4]. */
  private final Counter[][] counters = new Counter[AREAS.length][5];

  AdminResponses(MeterRegistry registry) {
    for (int a = 0; a < AREAS.length; a++) {
      for (int c = 0; c < 5; c++) {
        counters[a][c] = Counter.builder("tollgate_admin_responses")
            .description("Responses of the admin port, by area (api, console, health, metrics, other) and status class")
            .tag("area", AREAS[a]).tag("status", (c + 1) + "xx").register(registry);
      }
    }
  }

  /** The first handler of the admin router: counts the response once it has been sent. */
  void handle(RoutingContext ctx) {
    int area = area(ctx.request().path());
    ctx.addEndHandler(ended -> {
      int status = ctx.response().getStatusCode();
      counters[area][Math.min(5, Math.max(1, status / 100)) - 1].increment();
    });
    ctx.next();
  }

  private static int area(String path) {
    if (path == null) {
      return 4;
    }
    if (path.startsWith("/admin/")) {
      return 0;
    }
    if (path.startsWith("/console")) {
      return 1;
    }
    if (path.startsWith("/health/")) {
      return 2;
    }
    return path.equals("/metrics") ? 3 : 4;
  }
}
