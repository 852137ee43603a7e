package io.tollgate.gateway.ops;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tollgate.config.TollgateConfig;
import io.tollgate.gateway.IoTransport;
import io.tollgate.gateway.proxy.ConnectionGuard;
import io.tollgate.gateway.admin.AdminApi;
import io.tollgate.gateway.console.Console;
import io.tollgate.metering.store.PostgresUrls;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.healthchecks.CheckResult;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.pgclient.PgBuilder;
import io.vertx.redis.client.Redis;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeUnit;

/**
 * The operations port: health, Prometheus metrics, the OpenAPI document, the admin API
 * (bearer token) and the operator console ({@code /console/}, session cookie). Kept off the public port, on its own bind address ({@code server.adminHost}, loopback
 * by default), so that only what an operator lets through can reach it.
 */
public final class AdminVerticle extends VerticleBase {

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(AdminVerticle.class);

  private final TollgateConfig config;
  private final PrometheusMeterRegistry registry;
  private final String redisUrl;
  private final String postgresUrl;
  private Redis redis;
  private Pool postgres;
  private HttpServer server;
  private Router router;
  private ReadinessChecks readiness;
  private Buffer openApi;

  private final AdminApi adminApi;
  private final Console console;

  public AdminVerticle(TollgateConfig config, PrometheusMeterRegistry registry, String redisUrl, String postgresUrl,
                       AdminApi adminApi, Console console) {
    this.config = config;
    this.adminApi = adminApi;
    this.console = console;
    this.registry = registry;
    this.redisUrl = redisUrl;
    this.postgresUrl = postgresUrl;
  }

  @Override
  public Future<?> start() {
    RedisClients clients = new RedisClients(config.redis().mode(), redisUrl);
    redis = Redis.createClient(vertx, clients.options(2));
    postgres = PgBuilder.pool()
        .with(new PoolOptions().setMaxSize(2))
        .connectingTo(PostgresUrls.toConnectOptions(postgresUrl))
        .using(vertx)
        .build();
    readiness = new ReadinessChecks(vertx, redis, clients.mode(), postgres);
    openApi = classpathResource("openapi/tollgate-admin.yaml");

    router = Router.router(vertx);
    router.route().handler(new AdminResponses(registry)::handle);
    JsonObject live = new JsonObject().put("status", "UP").put("transport", IoTransport.name(vertx));
    router.get("/health/live").handler(ctx -> ctx.json(live));
    router.get("/health/ready").handler(this::ready);
    router.get("/metrics").handler(this::metrics);
    router.get("/admin/openapi.yaml").handler(ctx ->
        ctx.response().putHeader("content-type", "application/yaml").end(openApi));
    router.route("/admin/v1/*").handler(new AdminAuth(config.secrets().adminToken()));
    adminApi.mount(router);
    console.mount(router, readiness::check);
    router.route().last().handler(ctx -> Problems.send(ctx, 404, "not-found", "Not found",
        "no admin resource at " + ctx.request().method() + " " + ctx.request().path()));
    router.errorHandler(500, ctx -> {
      log.atError().setCause(ctx.failure()).addKeyValue("path", ctx.request().path())
          .log("admin request failed: {}", ctx.failure() == null ? "unknown" : ctx.failure().toString());
      Problems.send(ctx, 500, "internal", "Internal error", "the request failed inside the gateway; see the logs");
    });

    // Its own connection cap and header timeout: a flood on the proxy port must not take /health down.
    server = new ConnectionGuard("admin", config.server().adminMaxConnections(), config.server().headerTimeout(), registry)
        .guard(vertx, vertx.createHttpServer(new HttpServerOptions().setHttp2ClearTextEnabled(false)), router);
    return server.listen(config.server().adminPort(), config.server().adminHost());
  }

  /**
   * Method and OpenAPI-style path of every mounted route, for checking the document against them;
   * the console's HTML pages ({@code /console/...}) are not API and are left out.
   */
  public java.util.List<String> routes() {
    java.util.List<String> out = new java.util.ArrayList<>();
    for (io.vertx.ext.web.Route route : router.getRoutes()) {
      if (route.getPath() == null || route.methods() == null || route.methods().isEmpty() || route.getPath().startsWith("/console")) {
        continue;
      }
      String path = route.getPath().replaceAll(":([A-Za-z]+)", "{$1}");
      route.methods().forEach(m -> out.add(m.name().toLowerCase(java.util.Locale.ROOT) + " " + path));
    }
    return out;
  }

  @Override
  public Future<?> stop() {
    return server.shutdown(config.server().shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)
        .eventually(() -> postgres.close())
        .eventually(() -> {
          redis.close();
          return Future.succeededFuture();
        });
  }

  private void ready(RoutingContext ctx) {
    readiness.check().onComplete(ar -> {
      CheckResult result = ar.succeeded() ? ar.result() : CheckResult.from("ready", ar.cause());
      boolean up = CheckResult.isUp(result);
      ctx.response().setStatusCode(up ? 200 : 503)
          .putHeader("content-type", "application/json")
          .end(result.toJson().toBuffer());
    });
  }

  private void metrics(RoutingContext ctx) {
    // scrape() walks every meter; keep it off the event loop so a big registry can't stall traffic.
    vertx.executeBlocking(registry::scrape, false)
        .onSuccess(text -> ctx.response()
            .putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8")
            .end(text))
        .onFailure(ctx::fail);
  }

  private static Buffer classpathResource(String name) {
    try (InputStream in = AdminVerticle.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("missing classpath resource " + name);
      }
      return Buffer.buffer(in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
