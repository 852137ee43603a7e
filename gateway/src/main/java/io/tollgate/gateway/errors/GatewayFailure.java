package io.tollgate.gateway.errors;

/**
 * The one failure type of the gateway's edge: an HTTP status, a machine-readable code and a
 * message that says what was wrong (never echoing secrets). Each surface maps it once: the
 * OpenAI error envelope on proxy routes, problem+json on the admin API.
 */
public final class GatewayFailure extends RuntimeException {

  private final int status;
  private final String type;
  private final String code;
  private final java.util.Map<String, String> headers = new java.util.LinkedHashMap<>();

  public GatewayFailure(int status, String type, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.code = code;
  }

  /** Adds a response header to send with this failure (Retry-After, x-ratelimit-*). */
  public GatewayFailure withHeader(String name, String value) {
    headers.put(name, value);
    return this;
  }

  public java.util.Map<String, String> headers() {
    return headers;
  }

  public int status() {
    return status;
  }

  /** OpenAI-style error type, e.g. {@code invalid_request_error}. */
  public String type() {
    return type;
  }

  /** Stable machine-readable code, e.g. {@code upstream_timeout}. */
  public String code() {
    return code;
  }

  public static GatewayFailure notFound(String message) {
    return new GatewayFailure(404, "invalid_request_error", "route_not_found", message);
  }

  public static GatewayFailure badRequest(String code, String message) {
    return new GatewayFailure(400, "invalid_request_error", code, message);
  }

  public static GatewayFailure tooLarge(long limit) {
    return new GatewayFailure(413, "invalid_request_error", "request_too_large",
        "request body exceeds the limit of " + limit + " bytes");
  }

  public static GatewayFailure badGateway(String code, String message) {
    return new GatewayFailure(502, "upstream_error", code, message);
  }

  public static GatewayFailure gatewayTimeout(String message) {
    return new GatewayFailure(504, "upstream_error", "upstream_timeout", message);
  }

  public static GatewayFailure unavailable(String code, String message) {
    return new GatewayFailure(503, "service_unavailable", code, message);
  }
}
