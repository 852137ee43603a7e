package io.tollgate.gateway.measure;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Deterministic near-miss variants of JSON documents (a seeded random, so a failure names a case
 * that reproduces): bytes dropped, JSON syntax and odd values inserted, stretches repeated, and
 * broken UTF-8 — the inputs on which a streaming reader and a full parse could disagree.
 */
public final class JsonMutations {

  private static final String[] INSERTS = {
      "{", "}", "[", "]", ",", ":", "\"", "\\", "0", "1", "-", ".", "e", "E+", "null", "true", "false", " ", "\n",
      "/*c*/", "//x\n", "#", "'", "\"usage\"", "\"usage\":{\"prompt_tokens\":3},", "\"model\":", "\"model\":7,",
      "\"max_tokens\":-1,", "\"stream\":true,", "\"stream_options\":{\"include_usage\":true},", "é", "😀", "\\u00e9",
      "\\ud83d", "\u0001", "1e400", "123456789012345678901234567890", "-0.5", "NaN", "{}", "[]", "\"\""};

  private static final byte[][] BAD_BYTES = {{(byte) 0xC3}, {(byte) 0xFF}, {(byte) 0xE2, (byte) 0x82}, {(byte) 0x80}, {0}};

  private JsonMutations() {
  }

  /** {@code perSeed} variants of every seed, with one to three mutations each. */
  public static List<byte[]> of(List<String> seeds, int perSeed, long randomSeed) {
    Random random = new Random(randomSeed);
    List<byte[]> out = new ArrayList<>();
    for (String seed : seeds) {
      byte[] base = seed.getBytes(StandardCharsets.UTF_8);
      out.add(base);
      for (int i = 0; i < perSeed; i++) {
        byte[] b = base;
        int mutations = 1 + random.nextInt(3);
        for (int m = 0; m < mutations; m++) {
          b = mutate(b, random);
        }
        out.add(b);
      }
    }
    return out;
  }

  private static byte[] mutate(byte[] b, Random random) {
    int at = b.length == 0 ? 0 : random.nextInt(b.length + 1);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    switch (random.nextInt(5)) {
      case 0 -> { // drop up to three bytes
        int len = Math.min(b.length - at, 1 + random.nextInt(3));
        out.write(b, 0, at);
        out.write(b, at + len, b.length - at - len);
      }
      case 1, 2 -> { // insert JSON syntax or an odd value
        out.write(b, 0, at);
        out.writeBytes(INSERTS[random.nextInt(INSERTS.length)].getBytes(StandardCharsets.UTF_8));
        out.write(b, at, b.length - at);
      }
      case 3 -> { // repeat a stretch (duplicate keys, doubled values)
        int len = Math.min(b.length - at, random.nextInt(40));
        out.write(b, 0, at + len);
        out.write(b, at, b.length - at);
      }
      default -> { // broken UTF-8
        out.write(b, 0, at);
        out.writeBytes(BAD_BYTES[random.nextInt(BAD_BYTES.length)]);
        out.write(b, at, b.length - at);
      }
    }
    return out.toByteArray();
  }
}
