package io.tollgate.metering.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;

/** A free loopback port, for servers that must be told their port before they bind. */
final class FreePorts {

  private FreePorts() {
  }

  static int pick() {
    try (ServerSocket socket = new ServerSocket(0)) {
      socket.setReuseAddress(true);
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException("no free port", e);
    }
  }
}
