package io.tollgate.gateway.console;

import io.tollgate.metering.audit.AuditLog;
import io.tollgate.metering.audit.AuditTrail;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** The audit log with filters (actor, action, resource), paged newest first; CSV through the admin API's own export. */
final class AuditPage {

  static final int PAGE = 100;
  private final Console console;
  private final AuditTrail audit;

  AuditPage(Console console, AuditTrail audit) {
    this.console = console;
    this.audit = audit;
  }

  void mount(Router router) {
    router.get("/console/audit").handler(this::page);
    router.get("/console/audit.csv").handler(this::csv);
  }

  private String param(RoutingContext ctx, String name) {
    String v = ctx.queryParams().get(name);
    if (v == null || v.isBlank()) {
      return null;
    }
    if (v.length() > 200 || v.chars().anyMatch(Character::isISOControl)) {
      throw new FormError("The filter '" + name + "' may be at most 200 characters, without control characters.");
    }
    return v.strip();
  }

  private AuditLog.Filter filter(RoutingContext ctx) {
    return new AuditLog.Filter(param(ctx, "actor"), param(ctx, "action"), param(ctx, "resourceType"), param(ctx, "resourceId"), null, null);
  }

  private void page(RoutingContext ctx) {
    AuditLog.Filter filter;
    long before;
    try {
      filter = filter(ctx);
      String b = param(ctx, "before");
      before = b == null ? Long.MAX_VALUE : Long.parseLong(b);
    } catch (FormError e) {
      console.fail(ctx, e);
      return;
    } catch (NumberFormatException e) {
      console.fail(ctx, new FormError("'before' must be an audit entry id."));
      return;
    }
    Future.all(console.chrome(ctx, "Audit log", "audit"), audit.list(filter, before, PAGE)).onSuccess(all -> {
      List<JsonObject> rows = all.resultAt(1);
      List<View.AuditRow> out = new ArrayList<>();
      for (JsonObject r : rows) {
        out.add(new View.AuditRow(r.getLong("id"), View.time(Instant.parse(r.getString("createdAt"))), r.getString("actor"),
            r.getString("action"), r.getString("resourceType") + (r.getString("resourceId") == null ? "" : " " + r.getString("resourceId")),
            r.getString("ip")));
      }
      Long next = rows.size() == PAGE ? rows.get(rows.size() - 1).getLong("id") : null;
      console.render(ctx, 200, "audit.jte", new View.Audit(all.resultAt(0), filter.actor(), filter.action(), filter.resourceType(),
          filter.resourceId(), out, next, "/console/audit.csv?" + query(filter)));
    }).onFailure(err -> console.fail(ctx, err));
  }

  private void csv(RoutingContext ctx) {
    AuditLog.Filter filter;
    try {
      filter = filter(ctx);
    } catch (FormError e) {
      console.fail(ctx, e);
      return;
    }
    audit.list(filter, Long.MAX_VALUE, 10_000).onSuccess(rows -> {
      StringBuilder out = new StringBuilder("id,created_at,actor,action,resource_type,resource_id,ip\r\n");
      for (JsonObject r : rows) {
        out.append(r.getLong("id")).append(',').append(r.getString("createdAt")).append(',').append(cell(r.getString("actor")))
            .append(',').append(cell(r.getString("action"))).append(',').append(cell(r.getString("resourceType"))).append(',')
            .append(cell(r.getString("resourceId"))).append(',').append(cell(r.getString("ip"))).append("\r\n");
      }
      ctx.response().putHeader("content-type", "text/csv; charset=utf-8")
          .putHeader("content-disposition", "attachment; filename=\"audit-log.csv\"").end(out.toString());
    }).onFailure(err -> console.fail(ctx, err));
  }

  /** A CSV cell, quoted when needed; a leading formula character is neutralised for spreadsheets. */
  static String cell(String v) {
    if (v == null) {
      return "";
    }
    String s = !v.isEmpty() && "=+-@\t\r".indexOf(v.charAt(0)) >= 0 ? "'" + v : v;
    return s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
  }

  private static String query(AuditLog.Filter f) {
    StringBuilder q = new StringBuilder();
    add(q, "actor", f.actor());
    add(q, "action", f.action());
    add(q, "resourceType", f.resourceType());
    add(q, "resourceId", f.resourceId());
    return q.toString();
  }

  private static void add(StringBuilder q, String name, String value) {
    if (value != null) {
      q.append(q.length() == 0 ? "" : "&").append(name).append('=').append(URLEncoder.encode(value, StandardCharsets.UTF_8));
    }
  }
}
