package io.tollgate.loadtests.ceiling;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.httpproxy.HttpProxy;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The framework's own ceiling, for load-tests/ceiling.sh: a reverse proxy with nothing of Tollgate
 * in it, on the same Vert.x, transport and event-loop count as the gateway, so that Tollgate's
 * pass-through and metered throughput can be read against what Vert.x alone reaches on the same
 * machine in the same run (issue 18).
 *
 * <pre>java -cp stub-upstream.jar io.tollgate.loadtests.ceiling.BareProxyMain --mode core|http-proxy
 *     --port 19090 --upstream-port 19100</pre>
 *
 * <ul>
 *   <li>{@code core}: Vert.x core only — the server request is sent upstream as its body stream and
 *       the upstream response is sent back as its body stream ({@code send(ReadStream)}), headers
 *       copied less the hop-by-hop ones. The least any Vert.x proxy can do per request.</li>
 *   <li>{@code http-proxy}: vertx-http-proxy's {@code HttpProxy} with no interceptors — the library
 *       Tollgate's routes are built on, without Tollgate.</li>
 * </ul>
 */
public final class BareProxyMain {

  /** RFC 9110 §7.6.1 connection-specific fields: never forwarded. */
  private static final List<String> HOP_BY_HOP = List.of("connection", "keep-alive", "proxy-connection",
      "transfer-encoding", "te", "trailer", "upgrade");

  private BareProxyMain() {
  }

  public static void main(String[] args) throws Exception {
    String mode = "core";
    int port = 19090;
    int upstreamPort = 19100;
    String upstreamHost = "127.0.0.1";
    for (int i = 0; i + 1 < args.length; i += 2) {
      String value = args[i + 1];
      switch (args[i]) {
        case "--mode" -> mode = value;
        case "--port" -> port = Integer.parseInt(value);
        case "--upstream-port" -> upstreamPort = Integer.parseInt(value);
        case "--upstream-host" -> upstreamHost = value;
        default -> {
          System.err.println("unknown option " + args[i]);
          System.exit(2);
        }
      }
    }
    // As the gateway runs in bench.sh: one event loop, the native transport where it loads.
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setPreferNativeTransport(true));
    HttpClient client = vertx.httpClientBuilder()
        .with(new HttpClientOptions().setKeepAlive(true).setTcpNoDelay(true).setDecompressionSupported(false))
        .with(new PoolOptions().setHttp1MaxSize(256).setMaxWaitQueueSize(-1))
        .build();
    HttpServerOptions serverOptions = new HttpServerOptions().setHost("127.0.0.1").setPort(port).setTcpNoDelay(true);
    String host = upstreamHost;
    int upstream = upstreamPort;
    Future<?> listening;
    if (mode.equals("http-proxy")) {
      HttpProxy proxy = HttpProxy.reverseProxy(client).origin(upstream, host);
      listening = vertx.createHttpServer(serverOptions).requestHandler(proxy).listen();
    } else if (mode.equals("core")) {
      RequestOptions target = new RequestOptions().setHost(host).setPort(upstream);
      listening = vertx.createHttpServer(serverOptions).requestHandler(request -> forward(client, target, request)).listen();
    } else {
      throw new IllegalArgumentException("--mode must be core or http-proxy, not " + mode);
    }
    listening.await(30, TimeUnit.SECONDS);
    System.out.println("bare " + mode + " proxy on :" + port + " → " + host + ":" + upstream + " ("
        + (vertx.isNativeTransportEnabled() ? "native" : "nio") + " transport)");
  }

  private static void forward(HttpClient client, RequestOptions target, HttpServerRequest request) {
    request.pause();
    HttpServerResponse response = request.response();
    client.request(new RequestOptions(target).setMethod(request.method()).setURI(request.uri()))
        .compose(upstream -> {
          copy(request.headers(), upstream.headers());
          return upstream.send(request);
        })
        .onSuccess(answer -> {
          response.setStatusCode(answer.statusCode());
          copy(answer.headers(), response.headers());
          response.send(answer);
        })
        .onFailure(err -> {
          if (!response.headWritten()) {
            response.setStatusCode(502).end();
          }
        });
  }

  private static void copy(MultiMap from, MultiMap to) {
    from.forEach((name, value) -> {
      if (!HOP_BY_HOP.contains(name.toLowerCase(java.util.Locale.ROOT))) {
        to.add(name, value);
      }
    });
  }
}
