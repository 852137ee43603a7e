package io.tollgate.gateway.measure;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.tollgate.config.UsageFormat;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.jackson.JacksonCodec;
import java.io.IOException;

/**
 * A JSON response: passed through untouched while a bounded copy is kept, and its {@code usage}
 * read at the end — OpenAI ({@code prompt_tokens}/{@code completion_tokens}, or the Responses
 * API's {@code input_tokens}/{@code output_tokens}) and Anthropic ({@code input_tokens}/{@code output_tokens}).
 */
public final class JsonUsageObserver implements UsageObserver {

  /** Bodies beyond this are not parsed (usage is then estimated): memory stays bounded per request. */
  static final int MAX_PARSED_BYTES = 4 * 1024 * 1024;

  private final Buffer copy = Buffer.buffer();
  private long bytes;
  private boolean truncated;
  private Usage parsed;

  public JsonUsageObserver(UsageFormat format) {
  }

  @Override
  public Buffer onChunk(Buffer chunk) {
    bytes += chunk.length();
    if (!truncated) {
      if (copy.length() + chunk.length() > MAX_PARSED_BYTES) {
        truncated = true;
      } else {
        copy.appendBuffer(chunk);
      }
    }
    return chunk;
  }

  @Override
  public Buffer onEnd() {
    if (!truncated && copy.length() > 0) {
      parsed = usageOf(copy);
    }
    return Buffer.buffer();
  }

  @Override
  public boolean reported() {
    return parsed != null;
  }

  @Override
  public Usage usage(long inputEstimate) {
    if (parsed != null) {
      return parsed;
    }
    return new Usage(inputEstimate, bytes / 4, true);
  }

  /**
   * The top-level {@code usage} of a JSON object, or null when there is none, when the body is not
   * an object, or when it is not valid JSON to its end (the same answers a full {@code JsonObject}
   * parse gave, without building the tree: every other value is only tokenized and skipped).
   */
  static Usage usageOf(Buffer body) {
    try (JsonParser p = JacksonCodec.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      UsageFields usage = null;
      String name;
      while ((name = p.nextFieldName()) != null) {
        JsonToken value = p.nextToken();
        if (name.equals("usage")) {
          // A repeated key counts with its last value, as in a JsonObject.
          usage = value == JsonToken.START_OBJECT ? UsageFields.read(p) : null;
          if (usage == null) {
            p.skipChildren();
          }
        } else {
          p.skipChildren();
        }
      }
      if (p.nextToken() != null) {
        return null;
      }
      return usage == null ? null : usage.usage();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
