package io.tollgate.gateway.proxy;

import io.vertx.core.http.HttpServerRequest;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * The request id that ties a response, the logs and (later) the usage event together. A client
 * may supply its own; anything that is not a short token is replaced, so logs stay clean.
 * Named {@code x-tollgate-request-id} so that the upstream's own {@code x-request-id} (OpenAI
 * returns one) reaches the client untouched.
 */
public final class RequestIds {

  public static final String HEADER = "x-tollgate-request-id";
  private static final Pattern ACCEPTABLE = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private RequestIds() {
  }

  public static String of(HttpServerRequest request) {
    String given = request.getHeader(HEADER);
    if (given != null && ACCEPTABLE.matcher(given).matches()) {
      return given;
    }
    return generate();
  }

  static String generate() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long hi = random.nextLong();
    long lo = random.nextLong();
    char[] out = new char[32];
    for (int i = 0; i < 16; i++) {
      out[i] = HEX[(int) (hi >>> (60 - 4 * i)) & 0xf];
      out[16 + i] = HEX[(int) (lo >>> (60 - 4 * i)) & 0xf];
    }
    return new String(out);
  }
}
