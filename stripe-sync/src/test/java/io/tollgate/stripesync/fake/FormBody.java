package io.tollgate.stripesync.fake;

import io.netty.handler.codec.http.QueryStringDecoder;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;

/**
 * Stripe's form encoding read back into JSON: {@code line_items[0][price]=p&metadata[k]=v} becomes
 * {@code {"line_items":[{"price":"p"}],"metadata":{"k":"v"}}}. Values stay strings, as sent.
 */
final class FormBody {

  private FormBody() {
  }

  static JsonObject decode(String encoded) {
    JsonObject root = new JsonObject();
    if (encoded == null || encoded.isEmpty()) {
      return root;
    }
    Map<String, List<String>> params = new QueryStringDecoder(encoded, false).parameters();
    params.forEach((name, values) -> put(root, path(name), values.get(values.size() - 1)));
    return (JsonObject) arrays(root);
  }

  private static String[] path(String name) {
    int bracket = name.indexOf('[');
    if (bracket < 0) {
      return new String[] {name};
    }
    String head = name.substring(0, bracket);
    String[] rest = name.substring(bracket + 1, name.length() - 1).split("\\]\\[", -1);
    String[] out = new String[rest.length + 1];
    out[0] = head;
    System.arraycopy(rest, 0, out, 1, rest.length);
    return out;
  }

  private static void put(JsonObject root, String[] path, String value) {
    JsonObject at = root;
    for (int i = 0; i < path.length - 1; i++) {
      Object next = at.getValue(path[i]);
      if (!(next instanceof JsonObject)) {
        next = new JsonObject();
        at.put(path[i], next);
      }
      at = (JsonObject) next;
    }
    at.put(path[path.length - 1], value);
  }

  /** Objects whose keys are all 0..n-1 were lists. */
  private static Object arrays(Object value) {
    if (!(value instanceof JsonObject object)) {
      return value;
    }
    JsonObject converted = new JsonObject();
    object.forEach(e -> converted.put(e.getKey(), arrays(e.getValue())));
    boolean list = !converted.isEmpty();
    for (int i = 0; i < converted.size() && list; i++) {
      list = converted.containsKey(Integer.toString(i));
    }
    if (!list) {
      return converted;
    }
    JsonArray array = new JsonArray();
    for (int i = 0; i < converted.size(); i++) {
      array.add(converted.getValue(Integer.toString(i)));
    }
    return array;
  }
}
