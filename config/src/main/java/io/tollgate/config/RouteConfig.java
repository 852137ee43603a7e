package io.tollgate.config;

import java.net.URI;
import java.util.Optional;

/**
 * One proxy route: requests whose path starts with {@code prefix} go to {@code upstream} with the
 * prefix replaced by the upstream's path.
 *
 * @param upstreamKeyEnv the environment variable the credential was read from (for messages)
 * @param upstreamKey    the credential itself, injected into every upstream request
 * @param flatCost       credits charged per request on top of token pricing
 */
public record RouteConfig(String prefix, URI upstream, Optional<String> upstreamKeyEnv, Optional<Secret> upstreamKey,
                          UpstreamAuth upstreamAuth, UsageFormat usage, long flatCost) {
}
