package io.tollgate.config;

import java.util.Objects;

/**
 * A secret value from the environment. Its {@code toString} never shows the value, so a secret
 * can sit in records that get logged.
 */
public final class Secret {

  private final String value;

  private Secret(String value) {
    this.value = Objects.requireNonNull(value, "value");
  }

  public static Secret of(String value) {
    return new Secret(value);
  }

  /** The plain value: only for writing it where it is used (a header, a client). */
  public String reveal() {
    return value;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Secret other && other.value.equals(value);
  }

  @Override
  public int hashCode() {
    return value.hashCode();
  }

  @Override
  public String toString() {
    return "Secret[****]";
  }
}
