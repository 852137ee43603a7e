package io.tollgate.gateway.proxy;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;

/** Longest-prefix match from request path to a route's handler. */
final class RouteTable<T> {

  private record Entry<T>(String prefix, T handler) {
  }

  private final List<Entry<T>> entries;

  private RouteTable(List<Entry<T>> entries) {
    this.entries = entries;
  }

  static <R, T> RouteTable<T> build(List<R> routes, Function<R, String> prefix, Function<R, T> handler) {
    List<Entry<T>> entries = new ArrayList<>();
    for (R route : routes) {
      entries.add(new Entry<>(prefix.apply(route), handler.apply(route)));
    }
    entries.sort(Comparator.comparingInt((Entry<T> e) -> e.prefix().length()).reversed());
    return new RouteTable<>(List.copyOf(entries));
  }

  /** The handler of the longest prefix that {@code path} starts with, or null. */
  T match(String path) {
    for (Entry<T> entry : entries) {
      if (path.startsWith(entry.prefix())) {
        return entry.handler();
      }
    }
    return null;
  }
}
