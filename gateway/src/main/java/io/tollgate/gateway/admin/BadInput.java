package io.tollgate.gateway.admin;

/** An admin request that is wrong in a way the caller can fix: 400 (or the given status), naming the field. */
final class BadInput extends RuntimeException {

  final int status;
  final String code;

  BadInput(int status, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
  }

  static BadInput field(String field, String problem) {
    return new BadInput(400, "invalid-request", "'" + field + "' " + problem);
  }

  static BadInput notFound(String what) {
    return new BadInput(404, "not-found", what + " not found");
  }
}
