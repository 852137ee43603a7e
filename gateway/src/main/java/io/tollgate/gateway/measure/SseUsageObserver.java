package io.tollgate.gateway.measure;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.tollgate.config.UsageFormat;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.jackson.JacksonCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * An SSE response, read event by event as it streams. OpenAI: {@code usage} on whichever chunk
 * carries it (a final {@code choices: []} chunk, or the last content chunk). Anthropic:
 * {@code message_start.message.usage} for input, {@code message_delta.usage.output_tokens} for
 * output. Chunks pass through as they arrive, unless the gateway added {@code include_usage}
 * itself: then events are re-framed so the usage-only chunk the client did not ask for is dropped.
 *
 * <p>Each event's JSON is tokenized once and only the fields above are read; everything else is
 * skipped. An event counts only when its data is one valid JSON object to its end; a repeated key
 * counts with its last value, as it would in a parsed {@code JsonObject}.
 */
public final class SseUsageObserver implements UsageObserver {

  private final UsageFormat format;
  private final boolean dropUsageOnlyChunk;
  private final StringBuilder pending = new StringBuilder();
  /** How much of {@code pending} has been searched for an event end without finding one. */
  private int searched;
  private long input = -1;
  private long output = -1;
  private long contentChars;
  private int malformed;

  public SseUsageObserver(UsageFormat format, boolean dropUsageOnlyChunk) {
    this.format = format;
    this.dropUsageOnlyChunk = dropUsageOnlyChunk;
  }

  @Override
  public Buffer onChunk(Buffer chunk) {
    pending.append(chunk.toString(StandardCharsets.UTF_8));
    Buffer out = dropUsageOnlyChunk ? Buffer.buffer() : chunk;
    int start = 0;
    // An end marker ("\r\n\r\n" at most) may straddle what was searched and what just arrived.
    int end = eventEnd(pending, Math.max(0, searched - 3));
    while (end >= 0) {
      String event = pending.substring(start, end);
      start = end + (pending.charAt(end) == '\r' ? 4 : 2);
      boolean keep = observe(event);
      if (dropUsageOnlyChunk && keep) {
        out.appendString(event).appendString("\n\n");
      }
      end = eventEnd(pending, start);
    }
    pending.delete(0, start);
    searched = pending.length();
    return out;
  }

  @Override
  public Buffer onEnd() {
    if (pending.length() == 0) {
      return Buffer.buffer();
    }
    String rest = pending.toString();
    pending.setLength(0);
    searched = 0;
    boolean keep = observe(rest);
    return dropUsageOnlyChunk && keep ? Buffer.buffer(rest) : Buffer.buffer();
  }

  @Override
  public boolean reported() {
    return input >= 0 || output >= 0;
  }

  @Override
  public Usage usage(long inputEstimate) {
    if (reported()) {
      return new Usage(Math.max(0, input), Math.max(0, output), false);
    }
    return new Usage(inputEstimate, (contentChars + 3) / 4, true);
  }

  int malformedEvents() {
    return malformed;
  }

  /** The first "\n\n" or "\r\n\r\n" at or after {@code from}, whichever starts first; -1 if none. */
  static int eventEnd(CharSequence s, int from) {
    int last = s.length() - 1;
    for (int i = from; i < last; i++) {
      char c = s.charAt(i);
      if (c == '\n') {
        if (s.charAt(i + 1) == '\n') {
          return i;
        }
      } else if (c == '\r' && i + 3 <= last && s.charAt(i + 1) == '\n' && s.charAt(i + 2) == '\r' && s.charAt(i + 3) == '\n') {
        return i;
      }
    }
    return -1;
  }

  /**
   * The event's {@code data:} lines joined (without separators), lines split at "\n" or "\r\n";
   * one leading space after the colon is not part of the value.
   */
  static String dataOf(String event) {
    String single = null;
    StringBuilder joined = null;
    int n = event.length();
    int lineStart = 0;
    while (lineStart <= n) {
      int newline = event.indexOf('\n', lineStart);
      int lineEnd = newline < 0 ? n : newline;
      int contentEnd = newline >= 0 && lineEnd > lineStart && event.charAt(lineEnd - 1) == '\r' ? lineEnd - 1 : lineEnd;
      if (contentEnd - lineStart >= 5 && event.startsWith("data:", lineStart)) {
        int valueStart = contentEnd - lineStart > 5 && event.charAt(lineStart + 5) == ' ' ? lineStart + 6 : lineStart + 5;
        String value = event.substring(valueStart, contentEnd);
        if (single == null) {
          single = value;
        } else {
          if (joined == null) {
            joined = new StringBuilder(single);
          }
          joined.append(value);
        }
      }
      if (newline < 0) {
        break;
      }
      lineStart = newline + 1;
    }
    if (joined != null) {
      return joined.toString();
    }
    return single == null ? "" : single;
  }

  /** Reads one event; returns false when it is the usage-only chunk to drop. */
  private boolean observe(String event) {
    String data = dataOf(event);
    if (data.isEmpty() || data.equals("[DONE]")) {
      return true;
    }
    try (JsonParser p = JacksonCodec.createParser(data)) {
      if (p.nextToken() == JsonToken.START_OBJECT) {
        Boolean keep = format == UsageFormat.ANTHROPIC ? anthropic(p) : openAi(p);
        if (keep != null) {
          return keep;
        }
      }
    } catch (IOException | RuntimeException e) {
      // counted below
    }
    malformed++;
    return true;
  }

  /** Applies an OpenAI chunk once it has been read to its end; null when it is not valid JSON there. */
  private Boolean openAi(JsonParser p) throws IOException {
    boolean hasChoices = false;
    boolean noChoices = false;
    long chars = 0;
    UsageFields usage = null;
    String name;
    while ((name = p.nextFieldName()) != null) {
      JsonToken t = p.nextToken();
      if (name.equals("choices")) {
        hasChoices = t == JsonToken.START_ARRAY;
        noChoices = true;
        chars = 0;
        if (hasChoices) {
          while ((t = p.nextToken()) != JsonToken.END_ARRAY && t != null) {
            noChoices = false;
            chars += t == JsonToken.START_OBJECT ? choiceContentChars(p) : 0;
            p.skipChildren();
          }
        } else {
          p.skipChildren();
        }
      } else if (name.equals("usage")) {
        usage = t == JsonToken.START_OBJECT ? UsageFields.read(p) : null;
        p.skipChildren();
      } else {
        p.skipChildren();
      }
    }
    if (p.nextToken() != null) {
      return null;
    }
    contentChars += chars;
    if (usage != null) {
      Usage u = usage.usage();
      input = u.inputTokens();
      output = u.outputTokens();
      return !hasChoices || !noChoices;
    }
    return true;
  }

  /** {@code delta.content}'s length in one choice object; leaves the parser on the object's end. */
  private static long choiceContentChars(JsonParser p) throws IOException {
    long chars = -1;
    String name;
    while ((name = p.nextFieldName()) != null) {
      JsonToken t = p.nextToken();
      if (name.equals("delta")) {
        chars = t == JsonToken.START_OBJECT ? stringLength(p, "content") : -1;
      }
      p.skipChildren();
    }
    return Math.max(0, chars);
  }

  /** Applies an Anthropic event once it has been read to its end; null when it is not valid JSON there. */
  private Boolean anthropic(JsonParser p) throws IOException {
    String type = null;
    UsageFields messageUsage = null;
    UsageFields usage = null;
    long deltaText = -1;
    String name;
    while ((name = p.nextFieldName()) != null) {
      JsonToken t = p.nextToken();
      switch (name) {
        case "type" -> type = t == JsonToken.VALUE_STRING ? p.getText() : null;
        case "message" -> messageUsage = t == JsonToken.START_OBJECT ? usageIn(p) : null;
        case "usage" -> usage = t == JsonToken.START_OBJECT ? UsageFields.read(p) : null;
        case "delta" -> deltaText = t == JsonToken.START_OBJECT ? stringLength(p, "text") : -1;
        default -> { }
      }
      p.skipChildren();
    }
    if (p.nextToken() != null) {
      return null;
    }
    if ("message_start".equals(type) && messageUsage != null) {
      input = messageUsage.inputTokens();
      output = Math.max(output, messageUsage.usage().outputTokens());
    } else if ("message_delta".equals(type) && usage != null) {
      // output_tokens in message_delta is cumulative.
      output = usage.outputTokens();
      if (usage.hasInputTokens()) {
        input = usage.inputTokens();
      }
    } else if ("content_block_delta".equals(type) && deltaText >= 0) {
      contentChars += deltaText;
    }
    return true;
  }

  /** The {@code usage} object inside the object the parser is on, or null; leaves it on the object's end. */
  private static UsageFields usageIn(JsonParser p) throws IOException {
    UsageFields usage = null;
    String name;
    while ((name = p.nextFieldName()) != null) {
      JsonToken t = p.nextToken();
      if (name.equals("usage")) {
        usage = t == JsonToken.START_OBJECT ? UsageFields.read(p) : null;
      }
      p.skipChildren();
    }
    return usage;
  }

  /**
   * The length (in chars, as {@code String.length()}) of the last {@code key} in the object the
   * parser is on when that is a string, else -1; leaves the parser on the object's end.
   */
  private static long stringLength(JsonParser p, String key) throws IOException {
    long length = -1;
    String name;
    while ((name = p.nextFieldName()) != null) {
      JsonToken t = p.nextToken();
      if (name.equals(key)) {
        length = t == JsonToken.VALUE_STRING ? p.getTextLength() : -1;
      }
      p.skipChildren();
    }
    return length;
  }
}
