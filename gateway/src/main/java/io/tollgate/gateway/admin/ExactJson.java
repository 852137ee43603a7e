package io.tollgate.gateway.admin;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;

/**
 * Admin request bodies parsed with their decimal numbers exact: {@code 2.5} becomes the
 * BigDecimal 2.5, not the nearest double, so a credit amount is read as written and a fourth
 * decimal ({@code 0.0001}) is seen and refused rather than lost to binary rounding. Vert.x's own
 * decoder makes every fraction a Double. Integers stay Integer, Long or BigInteger as there.
 */
final class ExactJson {

  private static final JsonFactory FACTORY = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNumberLength(100).maxNestingDepth(100).build()).build();

  private ExactJson() {
  }

  /** The body as a JSON object, or null when it is empty; DecodeException when it is not one JSON object. */
  static JsonObject object(Buffer body) {
    if (body == null || body.length() == 0) {
      return null;
    }
    try (JsonParser p = FACTORY.createParser(body.getBytes())) {
      JsonToken first = p.nextToken();
      if (first == null) {
        return null;
      }
      if (first != JsonToken.START_OBJECT) {
        throw new DecodeException("not a JSON object");
      }
      JsonObject out = object(p);
      if (p.nextToken() != null) {
        throw new DecodeException("trailing content after the JSON object");
      }
      return out;
    } catch (IOException e) {
      throw new DecodeException("invalid JSON");
    }
  }

  private static JsonObject object(JsonParser p) throws IOException {
    JsonObject out = new JsonObject();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String name = p.currentName();
      p.nextToken();
      out.put(name, value(p));
    }
    return out;
  }

  private static JsonArray array(JsonParser p) throws IOException {
    JsonArray out = new JsonArray();
    while (p.nextToken() != JsonToken.END_ARRAY) {
      out.add(value(p));
    }
    return out;
  }

  private static Object value(JsonParser p) throws IOException {
    return switch (p.currentToken()) {
      case START_OBJECT -> object(p);
      case START_ARRAY -> array(p);
      case VALUE_STRING -> p.getText();
      case VALUE_NUMBER_INT -> p.getNumberValue();
      case VALUE_NUMBER_FLOAT -> p.getDecimalValue();
      case VALUE_TRUE -> Boolean.TRUE;
      case VALUE_FALSE -> Boolean.FALSE;
      case VALUE_NULL -> null;
      default -> throw new DecodeException("unexpected " + p.currentToken());
    };
  }
}
