package io.tollgate.gateway.ops;

import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** RFC 9457 {@code application/problem+json} answers: the admin API's one error format. */
public final class Problems {

  public static final String CONTENT_TYPE = "application/problem+json";

  private Problems() {
  }

  public static Future<Void> send(RoutingContext ctx, int status, String code, String title, String detail) {
    return send(ctx.request(), status, code, title, detail);
  }

  /** The same answer on a bare request (the public port's non-proxy endpoints). */
  public static Future<Void> send(io.vertx.core.http.HttpServerRequest request, int status, String code, String title, String detail) {
    JsonObject problem = new JsonObject()
        .put("type", "https://tollgate.dev/problems/" + code)
        .put("title", title)
        .put("status", status)
        .put("detail", detail)
        .put("instance", request.path());
    return request.response().setStatusCode(status).putHeader("content-type", CONTENT_TYPE).end(problem.toBuffer());
  }
}
