package io.tollgate.gateway.measure;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.streams.WriteStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** A real upstream response through an {@link ObservedStream}, piped as the proxy pipes it. */
@DisplayName("Observed response stream")
class ObservedStreamTest {

  private static Vertx vertx;
  private static HttpServer server;

  @BeforeAll
  static void start() throws Exception {
    vertx = Vertx.vertx();
    server = vertx.createHttpServer().requestHandler(req -> req.response().end("{\"usage\":{}}"))
        .listen(0, "127.0.0.1").await(10, TimeUnit.SECONDS);
  }

  @AfterAll
  static void stop() throws Exception {
    vertx.close().await(10, TimeUnit.SECONDS);
  }

  @Test
  @DisplayName("once the response has ended, clearing the handlers (what a finished pipe does) throws nothing and the observer saw it all")
  void endedResponseTakesNoNewHandlers() throws Exception {
    CompletableFuture<List<String>> outcome = new CompletableFuture<>();
    List<String> seen = new ArrayList<>();
    UsageObserver observer = new UsageObserver() {
      @Override
      public Buffer onChunk(Buffer chunk) {
        seen.add("chunk:" + chunk);
        return chunk;
      }

      @Override
      public Buffer onEnd() {
        seen.add("end");
        return Buffer.buffer();
      }

      @Override
      public Usage usage(long inputEstimate) {
        throw new UnsupportedOperationException("not used here");
      }

      @Override
      public boolean reported() {
        return false;
      }
    };
    vertx.getOrCreateContext().runOnContext(v -> {
      HttpClient client = vertx.createHttpClient();
      client.request(new RequestOptions().setMethod(HttpMethod.GET).setHost("127.0.0.1").setPort(server.actualPort()).setURI("/"))
          .compose(req -> req.send())
          .compose(resp -> {
            ObservedStream observed = new ObservedStream(resp, observer);
            Buffer out = Buffer.buffer();
            return observed.pipeTo(new Collecting(out)).map(done -> {
              List<String> result = new ArrayList<>(seen);
              result.add("out:" + out);
              result.add("ended:" + observed.ended());
              try {
                observed.handler(null);
                observed.exceptionHandler(null);
                observed.endHandler(null);
                observed.handler(b -> { });
                result.add("no exception");
              } catch (RuntimeException e) {
                result.add("threw " + e);
              }
              return result;
            });
          })
          .onComplete(ar -> {
            client.close();
            if (ar.succeeded()) {
              outcome.complete(ar.result());
            } else {
              outcome.completeExceptionally(ar.cause());
            }
          });
    });
    assertThat(outcome.get(10, TimeUnit.SECONDS))
        .containsExactly("chunk:{\"usage\":{}}", "end", "out:{\"usage\":{}}", "ended:true", "no exception");
  }

  /** A write stream into a buffer. */
  private record Collecting(Buffer into) implements WriteStream<Buffer> {
    @Override
    public WriteStream<Buffer> exceptionHandler(io.vertx.core.Handler<Throwable> handler) {
      return this;
    }

    @Override
    public Future<Void> write(Buffer data) {
      into.appendBuffer(data);
      return Future.succeededFuture();
    }

    @Override
    public Future<Void> end() {
      return Future.succeededFuture();
    }

    @Override
    public WriteStream<Buffer> setWriteQueueMaxSize(int maxSize) {
      return this;
    }

    @Override
    public boolean writeQueueFull() {
      return false;
    }

    @Override
    public WriteStream<Buffer> drainHandler(io.vertx.core.Handler<Void> handler) {
      return this;
    }
  }
}
