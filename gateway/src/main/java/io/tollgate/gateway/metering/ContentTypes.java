package io.tollgate.gateway.metering;

import java.util.Locale;

/**
 * Which metered request bodies the gateway reads as JSON. The declared type is not trusted to
 * say a body is not JSON: a JSON body sent as {@code text/plain} or with no type at all reached
 * upstreams that parse it regardless, past a model restriction and priced without its model
 * (issue 14). So JSON types, {@code text/*} and a missing type are all read; other types
 * (multipart uploads, binary audio) are not.
 */
final class ContentTypes {

  private ContentTypes() {
  }

  static boolean readAsJson(String contentType) {
    String type = mediaType(contentType);
    return type.isEmpty() || type.contains("json") || type.startsWith("text/");
  }

  /** The media type without parameters, lower case; empty when none was declared. */
  static String mediaType(String contentType) {
    if (contentType == null) {
      return "";
    }
    int semicolon = contentType.indexOf(';');
    return (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
  }

  /** The declared media type as an error message may quote it: bounded, and "multipart/form-data" style. */
  static String shown(String contentType) {
    String type = mediaType(contentType);
    return type.length() > 64 ? type.substring(0, 64) + "…" : type;
  }
}
