package io.tollgate.config;

/** Integer credits per one million input and output tokens. */
public record ModelPrice(long input, long output) {
}
