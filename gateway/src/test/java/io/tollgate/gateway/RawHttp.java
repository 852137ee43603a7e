package io.tollgate.gateway;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;

/** Exact bytes over a plain socket, for what an HTTP client library would never send. */
final class RawHttp {

  /** How long a read may wait before the test calls the connection "left open". */
  static final int READ_LIMIT_MS = 15_000;

  private RawHttp() {
  }

  static Socket open(int port) throws IOException {
    Socket socket = new Socket("127.0.0.1", port);
    socket.setSoTimeout(READ_LIMIT_MS);
    return socket;
  }

  static void send(Socket socket, String bytes) throws IOException {
    socket.getOutputStream().write(bytes.getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
  }

  /** Everything the server sends until it closes the connection; fails if it keeps it open. */
  static String readUntilClosed(Socket socket) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    InputStream in = socket.getInputStream();
    byte[] buf = new byte[8192];
    try {
      for (int n; (n = in.read(buf)) >= 0; ) {
        out.write(buf, 0, n);
      }
    } catch (SocketTimeoutException e) {
      throw new AssertionError("the server kept the connection open; received so far: "
          + out.toString(StandardCharsets.ISO_8859_1));
    } catch (SocketException e) {
      // A reset after the answer: closed all the same.
    }
    return out.toString(StandardCharsets.ISO_8859_1);
  }

  /** How many responses a transcript holds (status lines). */
  static int responses(String transcript) {
    int count = 0;
    for (int i = transcript.indexOf("HTTP/1.1 "); i >= 0; i = transcript.indexOf("HTTP/1.1 ", i + 1)) {
      count++;
    }
    return count;
  }
}
