package io.tollgate.gateway.charging;

import io.vertx.core.buffer.Buffer;
import java.util.Locale;

/**
 * How the gateway reads a metered request body, by its declared type. The declared type is not
 * trusted to say a body is not JSON: a JSON body sent as {@code text/plain} or with no type at all
 * reached upstreams that parse it regardless, past a model restriction and priced without its
 * model (issue 14). So JSON types are parsed; untyped, {@code text/*} and form bodies are read and
 * parsed when they hold a JSON object; other types (multipart uploads, binary audio) stream.
 */
final class ContentTypes {

  /** What to do with a body. */
  enum Reading {
    /** Parse as JSON: a malformed body is a 400. */
    JSON,
    /** Buffer it; parse as JSON if it holds a JSON object, else forward it as it came. */
    SNIFF,
    /** Stream it through unread. */
    STREAM
  }

  private ContentTypes() {
  }

  static Reading reading(String contentType) {
    String type = mediaType(contentType);
    if (type.contains("json")) {
      return Reading.JSON;
    }
    if (type.isEmpty() || type.startsWith("text/") || type.equals("application/x-www-form-urlencoded")) {
      return Reading.SNIFF;
    }
    return Reading.STREAM;
  }

  /** Whether the body's first non-whitespace byte opens a JSON object. */
  static boolean holdsJsonObject(Buffer raw) {
    for (int i = 0; i < raw.length(); i++) {
      byte b = raw.getByte(i);
      if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
        return b == '{';
      }
    }
    return false;
  }

  /** The media type without parameters, lower case; empty when none was declared. */
  static String mediaType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semicolon = contentType.indexOf(';');
    return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
  }

  /** The declared media type as an error message quotes it: bounded, "none" when absent. */
  static String shown(String contentType) {
    String type = mediaType(contentType);
    if (type.isEmpty()) {
      return "untyped";
    }
    return type.length() > 64 ? type.substring(0, 64) + "…" : type;
  }
}
