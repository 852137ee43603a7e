package io.tollgate.config;

import java.net.URI;
import java.util.Optional;

/**
 * One proxy route: a request whose path starts with {@code prefix} goes to {@code upstream}, the
 * prefix replaced by the upstream's path ({@code /v1/chat/completions} → {@code <upstream>chat/completions}).
 *
 * @param prefix         starts and ends with {@code /}; unique among routes
 * @param upstream       absolute http(s) URL whose path ends with {@code /}; no user info, query or fragment
 * @param upstreamKeyEnv the environment variable the credential was read from (for messages)
 * @param upstreamKey    the credential itself, present exactly when {@code upstreamKeyEnv} is
 * @param upstreamAuth   how the credential is sent
 * @param usage          where usage is read from the upstream's responses
 * @param flatCost       credits charged per request on top of token pricing, in units ({@link Credits}), ≥ 0
 * @param metered        false: a plain pass-through route (no API key, no admission, no usage) —
 *                       for public endpoints and for measuring what metering costs
 * @param feature        a plan feature the route requires: keys of accounts whose plan lacks it get 403
 * @param tls            this route's TLS trust and client certificate (https upstreams only); empty: {@code upstreamClient.tls}
 */
public record RouteConfig(String prefix, URI upstream, Optional<String> upstreamKeyEnv, Optional<Secret> upstreamKey,
                          UpstreamAuth upstreamAuth, UsageFormat usage, long flatCost, boolean metered,
                          Optional<String> feature, Optional<UpstreamTls> tls) {

  /** A route with the client-wide TLS settings. */
  public RouteConfig(String prefix, URI upstream, Optional<String> upstreamKeyEnv, Optional<Secret> upstreamKey,
                     UpstreamAuth upstreamAuth, UsageFormat usage, long flatCost, boolean metered,
                     Optional<String> feature) {
    this(prefix, upstream, upstreamKeyEnv, upstreamKey, upstreamAuth, usage, flatCost, metered, feature, Optional.empty());
  }

  /** A route open to every plan. */
  public RouteConfig(String prefix, URI upstream, Optional<String> upstreamKeyEnv, Optional<Secret> upstreamKey,
                     UpstreamAuth upstreamAuth, UsageFormat usage, long flatCost, boolean metered) {
    this(prefix, upstream, upstreamKeyEnv, upstreamKey, upstreamAuth, usage, flatCost, metered, Optional.empty());
  }

  /** A metered route (the default). */
  public RouteConfig(String prefix, URI upstream, Optional<String> upstreamKeyEnv, Optional<Secret> upstreamKey,
                     UpstreamAuth upstreamAuth, UsageFormat usage, long flatCost) {
    this(prefix, upstream, upstreamKeyEnv, upstreamKey, upstreamAuth, usage, flatCost, true);
  }
}
