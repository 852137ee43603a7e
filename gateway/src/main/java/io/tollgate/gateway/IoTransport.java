package io.tollgate.gateway;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;

/**
 * Which Netty transport the Vert.x instance runs on. Tollgate asks for the native one
 * ({@code VertxOptions.setPreferNativeTransport}); on Linux x86_64 that is epoll (from
 * {@code netty-transport-native-epoll}, shipped in the jar), which skips the JDK selector layer:
 * measured, about a quarter less gateway CPU per pass-through request and no change on the metered
 * path (load-tests/results/2026-11-29-throughput.md). Anywhere the native library cannot load, Vert.x falls back to
 * NIO; the name says which one runs (startup log, {@code /health/live},
 * {@code tollgate_io_transport}).
 */
public final class IoTransport {

  private IoTransport() {
  }

  /** {@code epoll}, {@code io_uring}, {@code kqueue} or {@code nio}. */
  public static String name(Vertx vertx) {
    if (!vertx.isNativeTransportEnabled()) {
      return "nio";
    }
    String impl = ((VertxInternal) vertx).transport().getClass().getSimpleName().toLowerCase(java.util.Locale.ROOT);
    if (impl.contains("epoll")) {
      return "epoll";
    }
    if (impl.contains("uring")) {
      return "io_uring";
    }
    if (impl.contains("kqueue")) {
      return "kqueue";
    }
    return impl;
  }

  /** Why the native transport is not in use, or null when it is. */
  public static Throwable unavailableCause(Vertx vertx) {
    return vertx.isNativeTransportEnabled() ? null : vertx.unavailableNativeTransportCause();
  }

  /** {@code tollgate_io_transport{transport="epoll"} 1}: one series, naming the transport. */
  static void register(MeterRegistry registry, String name) {
    Gauge.builder("tollgate.io.transport", () -> 1)
        .description("The network transport the event loops run on (1 on the series naming it): epoll, io_uring, kqueue or nio")
        .tag("transport", name)
        .register(registry);
  }
}
