package io.tollgate.loadtests.driver;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Creates accounts and API keys through a running gateway's admin API, many at a time, and writes
 * the plaintext keys (one a line) and the account ids.
 *
 * <p>{@code java -cp stub-upstream.jar io.tollgate.loadtests.driver.BenchSetup --admin http://127.0.0.1:8081
 * --token TOKEN --accounts 1000 --keys-per-account 10 [--plan free] [--initial-credits 0]
 * [--name bench] [--concurrency 200] --out keys.txt [--ids-out accounts.txt]}
 */
public final class BenchSetup extends VerticleBase {

  private final String admin;
  private final String token;
  private final int accounts;
  private final int keysPerAccount;
  private final String plan;
  private final long initialCredits;
  private final String name;
  private final int concurrency;
  private final Promise<List<long[]>> done = Promise.promise();
  private final List<String> keys = new ArrayList<>();
  private final List<long[]> accountIds = new ArrayList<>();
  private HttpClientAgent client;
  private int inFlight;
  private int nextAccount;

  BenchSetup(String admin, String token, int accounts, int keysPerAccount, String plan, long initialCredits, String name,
             int concurrency) {
    this.admin = admin;
    this.token = token;
    this.accounts = accounts;
    this.keysPerAccount = keysPerAccount;
    this.plan = plan;
    this.initialCredits = initialCredits;
    this.name = name;
    this.concurrency = concurrency;
  }

  @Override
  public Future<?> start() {
    client = vertx.httpClientBuilder().with(new PoolOptions().setHttp1MaxSize(concurrency)).build();
    for (int i = 0; i < Math.min(concurrency, Math.max(1, accounts)); i++) {
      next();
    }
    return Future.succeededFuture();
  }

  @Override
  public Future<?> stop() {
    return client.close();
  }

  /** One account at a time per slot: create it, then its keys one after the other. */
  private void next() {
    if (done.future().isComplete()) {
      return;
    }
    if (nextAccount >= accounts) {
      if (inFlight == 0) {
        done.tryComplete(accountIds);
      }
      return;
    }
    int n = nextAccount++;
    inFlight++;
    JsonObject account = new JsonObject().put("name", name + "-" + n).put("plan", plan);
    if (initialCredits > 0) {
      account.put("initialCredits", initialCredits);
    }
    post("/admin/v1/accounts", account)
        .compose(created -> {
          long id = created.getLong("id");
          accountIds.add(new long[] {id});
          Future<Void> chain = Future.succeededFuture();
          for (int k = 0; k < keysPerAccount; k++) {
            int index = k;
            chain = chain.compose(v -> post("/admin/v1/accounts/" + id + "/keys", new JsonObject().put("name", "key-" + index))
                .map(key -> {
                  keys.add(key.getString("key"));
                  return null;
                }));
          }
          return chain;
        })
        .onComplete(ar -> {
          inFlight--;
          if (ar.failed()) {
            done.tryFail(ar.cause());
            return;
          }
          next();
        });
  }

  private Future<JsonObject> post(String path, JsonObject body) {
    return retry(() -> client.request(new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(admin + path)
            .putHeader("authorization", "Bearer " + token).putHeader("content-type", "application/json"))
        .compose(req -> req.send(body.toBuffer()))
        .compose(resp -> resp.body().compose(b -> resp.statusCode() == 201 || resp.statusCode() == 200
            ? Future.succeededFuture(b.toJsonObject())
            : Future.failedFuture(new IllegalStateException("POST " + path + " answered " + resp.statusCode() + ": " + text(b))))), 3);
  }

  private static Future<JsonObject> retry(Supplier<Future<JsonObject>> call, int attempts) {
    return call.get().recover(err -> attempts > 1 && !(err instanceof IllegalStateException)
        ? retry(call, attempts - 1) : Future.failedFuture(err));
  }

  private static String text(Buffer b) {
    String s = b.toString();
    return s.length() > 300 ? s.substring(0, 300) : s;
  }

  public static void main(String[] args) throws Exception {
    String admin = null;
    String token = System.getenv("TOLLGATE_ADMIN_TOKEN");
    int accounts = 1;
    int keysPerAccount = 1;
    String plan = "free";
    long initialCredits = 0;
    String name = "bench";
    int concurrency = 200;
    Path out = null;
    Path idsOut = null;
    for (int i = 0; i + 1 < args.length; i += 2) {
      String v = args[i + 1];
      switch (args[i]) {
        case "--admin" -> admin = v;
        case "--token" -> token = v;
        case "--accounts" -> accounts = Integer.parseInt(v);
        case "--keys-per-account" -> keysPerAccount = Integer.parseInt(v);
        case "--plan" -> plan = v;
        case "--initial-credits" -> initialCredits = Long.parseLong(v);
        case "--name" -> name = v;
        case "--concurrency" -> concurrency = Integer.parseInt(v);
        case "--out" -> out = Path.of(v);
        case "--ids-out" -> idsOut = Path.of(v);
        default -> {
          System.err.println("bench setup: unknown option " + args[i]);
          System.exit(2);
        }
      }
    }
    if (admin == null || token == null || out == null) {
      System.err.println("bench setup: --admin, --out and --token (or TOLLGATE_ADMIN_TOKEN) are required");
      System.exit(2);
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    try {
      BenchSetup setup = new BenchSetup(admin, token, accounts, keysPerAccount, plan, initialCredits, name, concurrency);
      long started = System.nanoTime();
      vertx.deployVerticle(setup).await(10, TimeUnit.SECONDS);
      List<long[]> ids = setup.done.future().await(30, TimeUnit.MINUTES);
      double seconds = (System.nanoTime() - started) / 1e9;
      Files.write(out, setup.keys);
      if (idsOut != null) {
        List<String> lines = new ArrayList<>();
        ids.stream().mapToLong(a -> a[0]).sorted().forEach(id -> lines.add(Long.toString(id)));
        Files.write(idsOut, lines);
      }
      System.out.printf("created %d accounts and %d keys in %.1f s%n", ids.size(), setup.keys.size(), seconds);
    } finally {
      vertx.close().await(30, TimeUnit.SECONDS);
    }
  }
}
