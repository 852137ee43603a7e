package io.tollgate.gateway.errors;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.json.JsonObject;

/**
 * Renders failures in the OpenAI error envelope {@code {"error":{"message","type","code"}}}, so
 * that official SDKs surface the gateway's errors the same way as the upstream's.
 */
public final class OpenAiErrors {

  public static final String CONTENT_TYPE = "application/json; charset=utf-8";

  private OpenAiErrors() {
  }

  public static Buffer envelope(GatewayFailure failure) {
    return new JsonObject()
        .put("error", new JsonObject()
            .put("message", failure.getMessage())
            .put("type", failure.type())
            .put("param", null)
            .put("code", failure.code()))
        .toBuffer();
  }

  /** Ends {@code response} with the failure, unless the response has already started. */
  public static Future<Void> send(HttpServerResponse response, GatewayFailure failure) {
    if (response.headWritten() || response.ended() || response.closed()) {
      return Future.succeededFuture();
    }
    failure.headers().forEach(response::putHeader);
    return response
        .setStatusCode(failure.status())
        .putHeader("content-type", CONTENT_TYPE)
        .end(envelope(failure));
  }
}
