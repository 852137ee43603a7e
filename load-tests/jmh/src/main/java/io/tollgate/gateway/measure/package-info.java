/**
 * JMH benchmarks of the gateway's package-private hot-path classes (usage observers here, the
 * request shape in {@code charging}). They sit in the gateway's own package names so they can call
 * those classes without widening their visibility; the benchmark jar is one class path, so the
 * shared package names are harmless.
 */
package io.tollgate.gateway.measure;
