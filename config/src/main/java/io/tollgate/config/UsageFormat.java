package io.tollgate.config;

/** Where a route's upstream reports usage: OpenAI-style, Anthropic-style, or nowhere (estimate). */
public enum UsageFormat {
  OPENAI, ANTHROPIC, NONE
}
