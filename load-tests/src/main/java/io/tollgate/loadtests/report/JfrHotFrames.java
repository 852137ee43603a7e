package io.tollgate.loadtests.report;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Summarises a JFR recording's execution samples: the hottest methods by self time (top of the
 * stack), the hottest Tollgate methods by inclusive time, self time by code owner (JDK, Netty,
 * Vert.x, Tollgate, …), samples per thread, and GC pauses. Markdown out.
 */
public final class JfrHotFrames {

  private JfrHotFrames() {
  }

  public static String markdown(Path jfr, int top) throws IOException {
    Map<String, Integer> self = new HashMap<>();
    Map<String, Integer> inclusiveOwn = new HashMap<>();
    Map<String, Integer> owners = new HashMap<>();
    Map<String, Integer> threads = new HashMap<>();
    int samples = 0;
    int gcCount = 0;
    Duration gcPause = Duration.ZERO;
    try (RecordingFile file = new RecordingFile(jfr)) {
      while (file.hasMoreEvents()) {
        RecordedEvent event = file.readEvent();
        String type = event.getEventType().getName();
        if (type.equals("jdk.GarbageCollection")) {
          gcCount++;
          gcPause = gcPause.plus(event.getDuration("sumOfPauses"));
          continue;
        }
        if (!type.equals("jdk.ExecutionSample")) {
          continue;
        }
        RecordedStackTrace stack = event.getStackTrace();
        if (stack == null || stack.getFrames().isEmpty()) {
          continue;
        }
        samples++;
        String thread = event.getThread("sampledThread") == null ? "?" : event.getThread("sampledThread").getJavaName();
        threads.merge(thread == null ? "?" : thread.replaceAll("-\\d+$", "-N"), 1, Integer::sum);
        List<RecordedFrame> frames = stack.getFrames();
        String topMethod = name(frames.get(0));
        self.merge(topMethod, 1, Integer::sum);
        owners.merge(owner(topMethod), 1, Integer::sum);
        Set<String> seen = new HashSet<>();
        for (RecordedFrame f : frames) {
          String m = name(f);
          if (m.startsWith("io.tollgate.") && !m.contains("$$Lambda") && seen.add(m)) {
            inclusiveOwn.merge(m, 1, Integer::sum);
          }
        }
      }
    }
    StringBuilder md = new StringBuilder();
    md.append(String.format("%d execution samples; %d GCs, %d ms of GC pauses in total.%n%n", samples, gcCount, gcPause.toMillis()));
    md.append("Self time by owner of the top frame:\n\n| owner | samples | share |\n|---|---:|---:|\n");
    appendTable(md, owners, samples, 20);
    md.append("\nHottest methods, self time (top of stack):\n\n| method | samples | share |\n|---|---:|---:|\n");
    appendTable(md, self, samples, top);
    md.append("\nTollgate methods, inclusive time (on the stack):\n\n| method | samples | share |\n|---|---:|---:|\n");
    appendTable(md, inclusiveOwn, samples, top);
    md.append("\nSamples per thread:\n\n| thread | samples | share |\n|---|---:|---:|\n");
    appendTable(md, threads, samples, 10);
    return md.toString();
  }

  private static void appendTable(StringBuilder md, Map<String, Integer> counts, int total, int limit) {
    List<Map.Entry<String, Integer>> sorted = new ArrayList<>(counts.entrySet());
    sorted.sort(Map.Entry.<String, Integer>comparingByValue().reversed());
    Map<String, Integer> shown = new LinkedHashMap<>();
    for (Map.Entry<String, Integer> e : sorted.subList(0, Math.min(limit, sorted.size()))) {
      shown.put(e.getKey(), e.getValue());
    }
    shown.forEach((k, v) -> md.append(String.format("| `%s` | %d | %.1f %% |%n", k, v, 100.0 * v / Math.max(1, total))));
  }

  private static String name(RecordedFrame f) {
    return f.getMethod().getType().getName() + "." + f.getMethod().getName();
  }

  static String owner(String method) {
    String[][] owners = {
        {"io.tollgate.", "Tollgate"}, {"io.vertx.redis.", "Vert.x Redis client"}, {"io.vertx.pgclient.", "Vert.x Postgres client"},
        {"io.vertx.sqlclient.", "Vert.x SQL client"}, {"io.vertx.httpproxy.", "Vert.x HTTP proxy"}, {"io.vertx.ext.web.", "Vert.x Web"},
        {"io.vertx.micrometer.", "Vert.x Micrometer"}, {"io.micrometer.", "Micrometer"}, {"io.vertx.", "Vert.x core"},
        {"io.netty.", "Netty"}, {"com.fasterxml.jackson.", "Jackson"}, {"com.github.benmanes.caffeine.", "Caffeine"},
        {"ch.qos.logback.", "Logback"}, {"org.slf4j.", "SLF4J"}, {"sun.nio.", "JDK NIO"}, {"java.", "JDK"}, {"jdk.", "JDK"},
        {"sun.", "JDK"}};
    for (String[] o : owners) {
      if (method.startsWith(o[0])) {
        return o[1];
      }
    }
    return "other";
  }

  public static void main(String[] args) throws IOException {
    System.out.print(markdown(Path.of(args[0]), args.length > 1 ? Integer.parseInt(args[1]) : 20));
  }
}
