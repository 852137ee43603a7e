package io.tollgate.gateway.admin;

import static io.tollgate.gateway.admin.AdminApi.json;

import io.tollgate.config.Credits;
import io.tollgate.config.PlanConfig;
import io.tollgate.gateway.admin.AdminApi.Reply;
import io.tollgate.stripesync.billing.PriceInfo;
import io.tollgate.stripesync.billing.StripeBilling;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.core.Vertx;
import java.time.Clock;
import io.tollgate.config.TollgateConfig;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The plan catalog, for a pricing page that needs no copy of the YAML: each plan's limits, included
 * credits, models, features and overage policy, and its Stripe prices, by included credits ascending. With {@code STRIPE_API_KEY}
 * each price's amount, currency and interval are read from Stripe and kept for {@link #PRICE_TTL};
 * a price Stripe cannot answer for is listed with the error, and asked again on the next request.
 */
public final class PlansApi {

  static final Duration PRICE_TTL = Duration.ofMinutes(10);

  private record Cached(PriceInfo price, Instant until) {
  }

  private final TollgateConfig config;
  private final Optional<StripeBilling> stripe;
  private final Clock clock;
  private final Vertx vertx;
  private final Map<String, Cached> prices = new ConcurrentHashMap<>();

  /** {@code stripe} is empty without {@code STRIPE_API_KEY}: prices are then listed by id only. */
  public PlansApi(TollgateConfig config, Optional<StripeBilling> stripe, Clock clock, Vertx vertx) {
    this.config = config;
    this.stripe = stripe;
    this.clock = clock;
    this.vertx = vertx;
  }

  void mount(Router router) {
    router.get("/admin/v1/plans").handler(json(this::list));
  }

  private Future<Reply> list(RoutingContext ctx) {
    Set<String> ids = new LinkedHashSet<>();
    config.plans().values().forEach(p -> ids.addAll(p.stripePrices()));
    Future<Map<String, Object>> looked = stripe.isEmpty() ? Future.succeededFuture(Map.of()) : lookUp(stripe.get(), ids);
    return looked.map(found -> {
      JsonArray data = new JsonArray();
      List<PlanConfig> plans = new ArrayList<>(config.plans().values());
      plans.sort(Comparator.comparingLong(PlanConfig::includedCredits).thenComparing(PlanConfig::name));
      for (PlanConfig p : plans) {
        JsonArray stripePrices = new JsonArray();
        p.stripePrices().forEach(id -> stripePrices.add(priceJson(id, found.get(id))));
        data.add(new JsonObject().put("name", p.name())
            .put("limits", new JsonObject().put("requestsPerMinute", p.requestsPerMinute()).put("tokensPerMinute", p.tokensPerMinute()))
            .put("includedCredits", Credits.json(p.includedCredits())).put("alertThresholds", new JsonArray(p.alertThresholds()))
            .put("models", new JsonArray(p.models())).put("features", new JsonArray(p.features())).put("overage", p.overage().wire())
            .put("stripePrices", stripePrices));
      }
      return new Reply(200, new JsonObject().put("data", data).put("pricesFromStripe", stripe.isPresent()));
    });
  }

  /** Each price: a {@link PriceInfo} (cached or fetched now) or the failure's message; never fails as a whole. */
  private Future<Map<String, Object>> lookUp(StripeBilling stripe, Set<String> ids) {
    Instant now = clock.instant();
    Map<String, Object> out = new ConcurrentHashMap<>();
    List<Future<Void>> pending = new ArrayList<>();
    for (String id : ids) {
      Cached c = prices.get(id);
      if (c != null && c.until().isAfter(now)) {
        out.put(id, c.price());
        continue;
      }
      pending.add(vertx.executeBlocking(() -> stripe.retrievePrice(id), false).map(p -> {
        prices.put(id, new Cached(p, now.plus(PRICE_TTL)));
        out.put(id, p);
        return (Void) null;
      }).recover(err -> {
        out.put(id, err.getMessage() == null ? err.getClass().getSimpleName() : err.getMessage());
        return Future.succeededFuture();
      }));
    }
    return Future.join(pending).map(v -> out);
  }

  private static JsonObject priceJson(String id, Object found) {
    JsonObject j = new JsonObject().put("id", id);
    if (found instanceof PriceInfo p) {
      j.put("active", p.active()).put("currency", p.currency()).put("unitAmount", p.unitAmount()).put("type", p.type())
          .put("interval", p.interval()).put("intervalCount", p.intervalCount()).put("usageType", p.usageType())
          .put("nickname", p.nickname());
    } else if (found instanceof String error) {
      j.put("error", error);
    }
    return j;
  }
}
