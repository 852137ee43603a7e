package io.tollgate.gateway;

import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tollgate.config.ServerConfig;
import io.tollgate.config.TollgateConfig;
import io.tollgate.gateway.ops.AdminVerticle;
import io.tollgate.gateway.proxy.ConnectionGuard;
import io.tollgate.gateway.proxy.ProxyVerticle;
import io.tollgate.metering.schema.SchemaMigrator;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running gateway: backing services, schema, a Vert.x instance with its metrics registry,
 * the proxy verticles (one per event loop) and the admin verticle. Several can run in one JVM
 * (tests run two to check cross-instance behaviour); each owns its registry.
 */
public final class Tollgate implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Tollgate.class);

  private final TollgateConfig config;
  private final BackingServices backing;
  private final Vertx vertx;
  private final PrometheusMeterRegistry registry;
  private final JvmGcMetrics gcMetrics;
  private final AtomicBoolean closed = new AtomicBoolean();
  private Services services;
  private AdminVerticle admin;

  private Tollgate(TollgateConfig config, BackingServices backing, Vertx vertx, PrometheusMeterRegistry registry, JvmGcMetrics gcMetrics) {
    this.config = config;
    this.backing = backing;
    this.vertx = vertx;
    this.registry = registry;
    this.gcMetrics = gcMetrics;
  }

  /**
   * Starts a gateway and returns once both ports listen. Blocking: call it from {@code main} or a
   * test's setup, never from an event loop. Port 0 picks a free port (see {@link #proxyPort()}).
   */
  public static Tollgate start(TollgateConfig requested) {
    return start(requested, Clock.systemUTC());
  }

  /**
   * {@link #start(TollgateConfig)} with the clock every time-dependent rule of this instance reads
   * (periods, key expiry, buckets, batching, retries); tests pass one they can move.
   */
  public static Tollgate start(TollgateConfig requested, Clock clock) {
    TollgateConfig config = withConcretePorts(requested);
    BackingServices backing = BackingServices.start(config);
    Vertx vertx = null;
    Services startedServices = null;
    try {
      int applied = SchemaMigrator.migrate(backing.postgresUrl());
      log.info("database schema is current ({} migrations applied now)", applied);

      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      new ClassLoaderMetrics().bindTo(registry);
      new JvmMemoryMetrics().bindTo(registry);
      JvmGcMetrics gc = new JvmGcMetrics();
      gc.bindTo(registry);
      new JvmThreadMetrics().bindTo(registry);
      new ProcessorMetrics().bindTo(registry);
      new UptimeMetrics().bindTo(registry);

      int eventLoops = config.server().eventLoops();
      Vertx started = Vertx.builder()
          .with(new VertxOptions()
              .setEventLoopPoolSize(eventLoops)
              .setPreferNativeTransport(true)
              // Vert.x's per-request HTTP meters are off (issue 18's profiles): the client's cost six
              // meter lookups per upstream request, the server's a timer and counter lookup per
              // request and byte counts per write, and Tollgate counts the same things once per
              // route (tollgate_proxy_responses, tollgate_upstream_response_time,
              // tollgate_gateway_overhead, tollgate_connections_open, tollgate_upstream_connections).
              // The pools, Redis and SQL clients keep theirs (the dashboard's pending panels).
              .setMetricsOptions(new MicrometerMetricsOptions().setEnabled(true)
                  .setDisabledMetricsCategories(Set.of(MetricsDomain.HTTP_CLIENT.toCategory(),
                      MetricsDomain.HTTP_SERVER.toCategory(), MetricsDomain.NET_CLIENT.toCategory()))))
          .withMetrics(new MicrometerMetricsFactory(registry))
          .build();
      vertx = started;
      String transport = IoTransport.name(started);
      Throwable noNative = IoTransport.unavailableCause(started);
      if (noNative == null) {
        log.info("network transport: {}", transport);
      } else {
        log.warn("network transport: nio (the native transport is unavailable: {})", noNative.toString());
      }
      IoTransport.register(registry, transport);
      AdminVerticle[] admin = new AdminVerticle[1];
      ConnectionGuard proxyGuard = new ConnectionGuard("proxy", config.server().maxConnections(), config.server().headerTimeout(),
          registry);
      AtomicLong upstreamConnections = ProxyVerticle.upstreamConnections(registry);
      Services services = new Services(started, config, backing.redisUrl(), backing.postgresUrl(), registry,
          clock);
      services.start()
          .compose(v -> started.deployVerticle(() -> new ProxyVerticle(config, registry, services.hotPath(), services.webhookIntake(),
              proxyGuard, services.actionIngest(), upstreamConnections),
              new DeploymentOptions().setInstances(eventLoops)))
          .compose(id -> started.deployVerticle(admin[0] = new AdminVerticle(config, registry, backing.redisUrl(),
              backing.postgresUrl(), services.adminApi(), services.console())))
          .await(60, TimeUnit.SECONDS);
      startedServices = services;
      log.info("Tollgate listening: proxy on {}:{} ({} event loop(s), routes {}), admin and metrics on {}:{}",
          config.server().host(), config.server().port(), eventLoops,
          config.routes().stream().map(r -> r.prefix()).toList(), config.server().adminHost(), config.server().adminPort());
      Tollgate tollgate = new Tollgate(config, backing, vertx, registry, gc);
      tollgate.services = startedServices;
      tollgate.admin = admin[0];
      return tollgate;
    } catch (Exception e) {
      if (vertx != null) {
        vertx.close();
      }
      backing.close();
      if (e instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IllegalStateException("Tollgate failed to start: " + e.getMessage(), e);
    }
  }

  public int proxyPort() {
    return config.server().port();
  }

  public int adminPort() {
    return config.server().adminPort();
  }

  /** Where this instance's Redis is (embedded or external); for wiring and tests, never logged. */
  String redisUrl() {
    return backing.redisUrl();
  }

  /** Where this instance's Postgres is (embedded or external); for wiring and tests, never logged. */
  String postgresUrl() {
    return backing.postgresUrl();
  }

  /** The instance's shared metering services (background jobs, stores); for wiring and tests. */
  Services services() {
    return services;
  }

  /** The admin port's routes (method and path), as mounted. */
  List<String> adminRoutes() {
    return admin.routes();
  }

  public TollgateConfig config() {
    return config;
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /**
   * Graceful stop: servers stop accepting, in-flight requests get the configured grace period,
   * then Vert.x and any embedded servers stop. Idempotent and blocking: call it from main, a
   * shutdown hook or a test thread, never from a Vert.x thread.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    log.info("shutting down: letting in-flight requests finish (grace {})", config.server().shutdownGrace());
    try {
      // Servers first (in-flight requests settle), then the shared metering clients.
      java.util.List<io.vertx.core.Future<Void>> undeploys = new java.util.ArrayList<>();
      for (String id : vertx.deploymentIDs()) {
        undeploys.add(vertx.undeploy(id));
      }
      io.vertx.core.Future.join(undeploys).await(config.server().shutdownGrace().toMillis() + 10_000, TimeUnit.MILLISECONDS);
      services.close().await(10, TimeUnit.SECONDS);
      vertx.close().await(config.server().shutdownGrace().toMillis() + 10_000, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      log.warn("Vert.x did not close cleanly: {}", e.toString());
    } finally {
      gcMetrics.close();
      registry.close();
      backing.close();
      log.info("Tollgate stopped");
    }
  }

  private static TollgateConfig withConcretePorts(TollgateConfig c) {
    ServerConfig s = c.server();
    if (s.port() != 0 && s.adminPort() != 0) {
      return c;
    }
    ServerConfig resolved = s.withPorts(s.port() == 0 ? freePort() : s.port(), s.adminPort() == 0 ? freePort() : s.adminPort());
    return c.withServer(resolved);
  }

  private static int freePort() {
    return io.tollgate.embedded.FreePorts.pick();
  }
}
