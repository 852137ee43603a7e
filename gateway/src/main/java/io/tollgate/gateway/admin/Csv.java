package io.tollgate.gateway.admin;

import io.vertx.core.json.JsonObject;
import java.util.List;

/** CSV (RFC 4180) renderings of admin listings. */
final class Csv {

  private Csv() {
  }

  static String auditLog(List<JsonObject> rows) {
    StringBuilder out = new StringBuilder("id,created_at,actor,action,resource_type,resource_id,ip,before,after\r\n");
    for (JsonObject r : rows) {
      out.append(r.getLong("id")).append(',')
          .append(cell(r.getString("createdAt"))).append(',')
          .append(cell(r.getString("actor"))).append(',')
          .append(cell(r.getString("action"))).append(',')
          .append(cell(r.getString("resourceType"))).append(',')
          .append(cell(r.getString("resourceId"))).append(',')
          .append(cell(r.getString("ip"))).append(',')
          .append(cell(r.getValue("before") == null ? null : r.getValue("before").toString())).append(',')
          .append(cell(r.getValue("after") == null ? null : r.getValue("after").toString())).append("\r\n");
    }
    return out.toString();
  }

  static String cell(String value) {
    if (value == null) {
      return "";
    }
    // Formula injection: a cell starting with = + - @ is opened as a formula by spreadsheets.
    String v = !value.isEmpty() && "=+-@".indexOf(value.charAt(0)) >= 0 ? "'" + value : value;
    if (v.contains(",") || v.contains("\"") || v.contains("\n") || v.contains("\r")) {
      return "\"" + v.replace("\"", "\"\"") + "\"";
    }
    return v;
  }
}
