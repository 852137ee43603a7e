/**
 * JMH benchmarks of the gateway's package-private hot-path classes (request shape, usage
 * observers, pricing). They sit in the gateway's own package name so they can call those classes
 * without widening their visibility; the benchmark jar is one class path, so the shared package
 * name is harmless.
 */
package io.tollgate.gateway.metering;
