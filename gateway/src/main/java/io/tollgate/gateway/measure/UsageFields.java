package io.tollgate.gateway.measure;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * A {@code usage} object in any of the shapes upstreams use, read token by token from a parser
 * positioned on its {@code START_OBJECT}. Other fields and nested values are skipped, not built.
 * A repeated key counts once, with its last value, as it would in a parsed {@code JsonObject}.
 */
final class UsageFields {

  private boolean hasPrompt;
  private boolean hasCompletion;
  private boolean hasInput;
  private long prompt;
  private long completion;
  private long input;
  private long output;
  private long cacheCreation;
  private long cacheRead;

  private UsageFields() {
  }

  /** Reads the object the parser is on, leaving the parser on its {@code END_OBJECT}. */
  static UsageFields read(JsonParser p) throws IOException {
    UsageFields u = new UsageFields();
    String name;
    while ((name = p.nextFieldName()) != null) {
      p.nextToken();
      switch (name) {
        case "prompt_tokens" -> {
          u.hasPrompt = true;
          u.prompt = num(p);
        }
        case "completion_tokens" -> {
          u.hasCompletion = true;
          u.completion = num(p);
        }
        case "input_tokens" -> {
          u.hasInput = true;
          u.input = num(p);
        }
        case "output_tokens" -> u.output = num(p);
        case "cache_creation_input_tokens" -> u.cacheCreation = num(p);
        case "cache_read_input_tokens" -> u.cacheRead = num(p);
        default -> p.skipChildren();
      }
    }
    return u;
  }

  /** The tokens, the way every supported upstream means them. */
  Usage usage() {
    // Anthropic counts prompt-cache reads and writes separately from input_tokens.
    return new Usage(inputTokens(), hasCompletion ? completion : output, false);
  }

  long inputTokens() {
    return (hasPrompt ? prompt : input) + cacheCreation + cacheRead;
  }

  /** {@code output_tokens} alone (Anthropic's cumulative count in {@code message_delta}). */
  long outputTokens() {
    return output;
  }

  boolean hasInputTokens() {
    return hasInput;
  }

  /**
   * A token count: any JSON number, as a long (the same conversion {@code Number.longValue()}
   * makes of what a full parse would hold), never negative; anything else counts 0.
   */
  static long num(JsonParser p) throws IOException {
    JsonToken t = p.currentToken();
    if (t == JsonToken.VALUE_NUMBER_INT || t == JsonToken.VALUE_NUMBER_FLOAT) {
      return Math.max(0, p.getNumberValue().longValue());
    }
    p.skipChildren();
    return 0;
  }
}
