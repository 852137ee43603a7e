package io.tollgate.gateway.measure;

import io.tollgate.config.UsageFormat;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;

/**
 * SseUsageObserver as it was before the streaming parser (a regex line split and a
 * {@code JsonObject} per event), kept verbatim as the oracle the new observer is compared with.
 */
final class LegacySseUsageObserver implements UsageObserver {

  private final UsageFormat format;
  private final boolean dropUsageOnlyChunk;
  private final StringBuilder pending = new StringBuilder();
  private long input = -1;
  private long output = -1;
  private long contentChars;
  private int malformed;

  LegacySseUsageObserver(UsageFormat format, boolean dropUsageOnlyChunk) {
    this.format = format;
    this.dropUsageOnlyChunk = dropUsageOnlyChunk;
  }

  @Override
  public Buffer onChunk(Buffer chunk) {
    pending.append(chunk.toString(StandardCharsets.UTF_8));
    Buffer out = dropUsageOnlyChunk ? Buffer.buffer() : chunk;
    int end;
    while ((end = eventEnd(pending)) >= 0) {
      String event = pending.substring(0, end);
      int separator = pending.charAt(end) == '\r' ? 4 : 2;
      pending.delete(0, end + separator);
      boolean keep = observe(event);
      if (dropUsageOnlyChunk && keep) {
        out.appendString(event).appendString("\n\n");
      }
    }
    return out;
  }

  @Override
  public Buffer onEnd() {
    if (pending.length() == 0) {
      return Buffer.buffer();
    }
    String rest = pending.toString();
    pending.setLength(0);
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

  private static int eventEnd(StringBuilder s) {
    int lf = s.indexOf("\n\n");
    int crlf = s.indexOf("\r\n\r\n");
    if (lf < 0) {
      return crlf;
    }
    return crlf < 0 ? lf : Math.min(lf, crlf);
  }

  /** Reads one event; returns false when it is the usage-only chunk to drop. */
  private boolean observe(String event) {
    StringBuilder data = new StringBuilder();
    for (String line : event.split("\r?\n")) {
      if (line.startsWith("data:")) {
        data.append(line.length() > 5 && line.charAt(5) == ' ' ? line.substring(6) : line.substring(5));
      }
    }
    if (data.length() == 0 || data.toString().equals("[DONE]")) {
      return true;
    }
    JsonObject json;
    try {
      json = new JsonObject(data.toString());
    } catch (RuntimeException e) {
      malformed++;
      return true;
    }
    return format == UsageFormat.ANTHROPIC ? anthropic(json) : openAi(json);
  }

  private boolean openAi(JsonObject json) {
    JsonArray choices = json.getValue("choices") instanceof JsonArray a ? a : null;
    if (choices != null) {
      for (Object c : choices) {
        if (c instanceof JsonObject choice && choice.getValue("delta") instanceof JsonObject delta
            && delta.getValue("content") instanceof String text) {
          contentChars += text.length();
        }
      }
    }
    if (json.getValue("usage") instanceof JsonObject usage) {
      Usage u = LegacyUsageFields.of(usage);
      input = u.inputTokens();
      output = u.outputTokens();
      return choices == null || !choices.isEmpty();
    }
    return true;
  }

  private boolean anthropic(JsonObject json) {
    String type = json.getString("type", "");
    if (type.equals("message_start") && json.getValue("message") instanceof JsonObject message
        && message.getValue("usage") instanceof JsonObject usage) {
      Usage u = LegacyUsageFields.of(usage);
      input = u.inputTokens();
      output = Math.max(output, u.outputTokens());
    } else if (type.equals("message_delta") && json.getValue("usage") instanceof JsonObject usage) {
      // output_tokens in message_delta is cumulative.
      output = LegacyUsageFields.num(usage, "output_tokens");
      if (usage.containsKey("input_tokens")) {
        input = LegacyUsageFields.of(usage).inputTokens();
      }
    } else if (type.equals("content_block_delta") && json.getValue("delta") instanceof JsonObject delta
        && delta.getValue("text") instanceof String text) {
      contentChars += text.length();
    }
    return true;
  }
}
