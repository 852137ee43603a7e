package io.tollgate.gateway.metering;

import io.tollgate.config.UsageFormat;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;

/**
 * A JSON response: passed through untouched while a bounded copy is kept, and its {@code usage}
 * read at the end — OpenAI ({@code prompt_tokens}/{@code completion_tokens}, or the Responses
 * API's {@code input_tokens}/{@code output_tokens}) and Anthropic ({@code input_tokens}/{@code output_tokens}).
 */
final class JsonUsageObserver implements UsageObserver {

  /** Bodies beyond this are not parsed (usage is then estimated): memory stays bounded per request. */
  static final int MAX_PARSED_BYTES = 4 * 1024 * 1024;

  private final Buffer copy = Buffer.buffer();
  private long bytes;
  private boolean truncated;
  private Usage parsed;

  JsonUsageObserver(UsageFormat format) {
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
      parsed = UsageFields.from(tryParse(copy));
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

  private static JsonObject tryParse(Buffer body) {
    try {
      return body.toJsonObject();
    } catch (RuntimeException e) {
      return null;
    }
  }
}
