package io.tollgate.metering.admission;

import io.tollgate.metering.redis.RedisKeys;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.Request;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Reads what the settle script wrote into the usage stream, as the stream holds it. */
final class OverageFields {

  private OverageFields() {
  }

  /** The {@code overage} fields of the account's last {@code n} usage stream entries, oldest first. */
  static List<Long> last(Redis redis, RedisKeys keys, long account, int n) throws Exception {
    io.vertx.redis.client.Response entries = (redis.send(Request.cmd(Command.XREVRANGE).arg(keys.usageStream(account))
        .arg("+").arg("-").arg("COUNT").arg(1000))).await(30, TimeUnit.SECONDS);
    List<Long> out = new ArrayList<>();
    for (io.vertx.redis.client.Response entry : entries) {
      io.vertx.redis.client.Response fields = entry.get(1);
      String acct = null;
      String overage = null;
      for (int i = 0; i + 1 < fields.size(); i += 2) {
        if ("account_id".equals(fields.get(i).toString())) {
          acct = fields.get(i + 1).toString();
        } else if ("overage".equals(fields.get(i).toString())) {
          overage = fields.get(i + 1).toString();
        }
      }
      if (Long.toString(account).equals(acct)) {
        out.add(0, Long.parseLong(overage));
        if (out.size() == n) {
          break;
        }
      }
    }
    return out;
  }

}
