package io.tollgate.metering.audit;

/** Who asked for a change, as the audit log records it: a name and the address it came from (null when unknown). */
public record Actor(String name, String ip) {
}
