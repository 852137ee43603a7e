package io.tollgate.metering.admission;

import static org.assertj.core.api.Assertions.assertThat;

import io.tollgate.config.Credits;
import io.tollgate.metering.redis.RedisKeys;
import io.tollgate.metering.testing.MutableClock;
import io.tollgate.metering.testing.TestRedis;
import io.tollgate.metering.usage.UsageEvent;
import io.tollgate.metering.usage.UsageRows;
import io.tollgate.metering.usage.UuidV7;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Money in millicredits through the real admission and settle scripts: a 2.5-credit charge is
 * 2,500 units, and 10,000 of them are exactly 25,000 credits — no rounding drift, however many.
 */
@DisplayName("Millicredits in Redis: 10,000 charges of 2.5 credits are exactly 25,000, to the unit")
class MillicreditChargesTest {

  @RegisterExtension
  static final TestRedis REDIS = new TestRedis(32, 20_000);
  private static final Vertx vertx = REDIS.vertx();
  private static final Redis redis = REDIS.client();

  private static <T> T await(Future<T> f) throws Exception {
    return f.await(120, TimeUnit.SECONDS);
  }

  @Test
  @DisplayName("a balance of 25,000 credits pays exactly 10,000 charges of 2.5, ends at 0, refuses the next; the stream sums to 25,000")
  void tenThousandChargesNoDrift() throws Exception {
    MutableClock clock = new MutableClock(System.currentTimeMillis());
    RedisKeys keys = new RedisKeys(16);
    Admissions admissions = new Admissions(redis, keys, clock, Duration.ofMinutes(5));
    long account = ThreadLocalRandom.current().nextLong(8_000_000, 9_000_000);
    long charge = Credits.units(new BigDecimal("2.5"));
    assertThat(charge).isEqualTo(2_500);
    await(admissions.seedBalance(account, Credits.units(new BigDecimal("25000"))));

    for (int wave = 0; wave < 10; wave++) {
      List<Future<Long>> settled = new ArrayList<>();
      for (int i = 0; i < 1_000; i++) {
        settled.add(admissions.admit(new AdmissionRequest(UuidV7.at(clock.millis()), account, 1, Limits.UNLIMITED, Limits.UNLIMITED, 0,
                charge, CreditPolicy.ENFORCE))
            .compose(d -> admissions.settle(d.reservation().orElseThrow(() -> new AssertionError("refused: " + d.denial())),
                new UsageEvent(d.reservation().get().eventId(), account, 1, "/action/", "", 0, 0, charge, 200, 1, false, "ok",
                    clock.millis()))));
      }
      await(Future.all(settled));
    }
    assertThat(await(admissions.balance(account))).contains(0L);
    Decision next = await(admissions.admit(new AdmissionRequest(UuidV7.at(clock.millis()), account, 1, Limits.UNLIMITED,
        Limits.UNLIMITED, 0, charge, CreditPolicy.ENFORCE)));
    assertThat(next.denial()).isEqualTo(Denial.CREDITS);

    // The usage the stream carries for this account, parsed as the consumer parses it.
    long units = 0;
    int events = 0;
    String start = "-";
    while (true) {
      Response page = await(redis.send(Request.cmd(Command.XRANGE).arg(keys.usageStream(account)).arg(start).arg("+")
          .arg("COUNT").arg(5_000)));
      if (page.size() == 0) {
        break;
      }
      for (Response entry : page) {
        Map<String, String> fields = new HashMap<>();
        Response kv = entry.get(1);
        for (int i = 0; i + 1 < kv.size(); i += 2) {
          fields.put(kv.get(i).toString(), kv.get(i + 1).toString());
        }
        if (Long.toString(account).equals(fields.get("account_id"))) {
          UsageEvent e = UsageRows.parse(fields);
          units += e.credits();
          events++;
        }
      }
      start = "(" + page.get(page.size() - 1).get(0).toString();
    }
    assertThat(events).isEqualTo(10_000);
    assertThat(units).isEqualTo(25_000_000L);
    assertThat(Credits.format(units)).isEqualTo("25000");
  }

  @Test
  @DisplayName("a stream entry written before millicredits (no unit field) is read as whole credits; one with unit=mc as units")
  void legacyStreamEntriesConverted() {
    UsageEvent e = new UsageEvent(UuidV7.at(System.currentTimeMillis()), 1, 2, "/v1/", "m", 10, 20, 2_500, 200, 5, false, "ok",
        System.currentTimeMillis());
    Map<String, String> current = fieldsOf(e.toStreamFields());
    current.put("overage", "500");
    assertThat(current).containsEntry("unit", "mc");
    assertThat(UsageRows.parse(current).credits()).isEqualTo(2_500);
    assertThat(UsageRows.parse(current).overageCredits()).isEqualTo(500);

    Map<String, String> legacy = new HashMap<>(current);
    legacy.remove("unit");
    legacy.put("credits", "3");
    legacy.put("overage", "1");
    assertThat(UsageRows.parse(legacy).credits()).as("3 whole credits").isEqualTo(3_000);
    assertThat(UsageRows.parse(legacy).overageCredits()).isEqualTo(1_000);

    Map<String, String> unknown = new HashMap<>(current);
    unknown.put("unit", "credits");
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> UsageRows.parse(unknown))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unit");
  }

  private static Map<String, String> fieldsOf(List<String> pairs) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i + 1 < pairs.size(); i += 2) {
      out.put(pairs.get(i), pairs.get(i + 1));
    }
    return out;
  }
}
