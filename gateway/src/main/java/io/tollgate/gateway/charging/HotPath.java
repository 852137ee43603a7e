package io.tollgate.gateway.charging;

import io.tollgate.metering.admission.AdmissionService;
import io.tollgate.metering.keys.KeyVerifier;
import java.time.Clock;

/**
 * What the metered interceptors of one instance share: the domain's key and admission rules,
 * the edge's failed-authentication limiter and metrics, the settlements in flight, the clock, the
 * {@code max_tokens} assumed when a request names none, and what a client that hangs up is charged.
 */
public record HotPath(KeyVerifier keys, AdmissionService admission, FailedAuthLimiter failedAuth, MeteringMetrics metrics,
                      Settlements settlements, Clock clock, long defaultMaxTokens, AbortPolicy abortPolicy) {
}
