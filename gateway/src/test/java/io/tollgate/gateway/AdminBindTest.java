package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketException;
import java.util.Collections;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

@DisplayName("The admin port listens on loopback unless server.adminHost says otherwise")
class AdminBindTest {

  private static InetAddress other;
  private static Tollgate byDefault;
  private static Tollgate everywhere;

  @BeforeAll
  static void start() throws SocketException {
    other = nonLoopbackAddress();
    byDefault = GatewayHarness.start("", Map.of());
    everywhere = GatewayHarness.start("server: { adminHost: 0.0.0.0 }", Map.of());
  }

  @AfterAll
  static void stop() {
    byDefault.close();
    everywhere.close();
  }

  /**
   * An address of this machine that is not 127.0.0.1: a real interface's if there is one, else
   * 127.0.0.2 (on Linux all of 127.0.0.0/8 reaches this machine, but a socket bound to
   * 127.0.0.1 does not accept connections to 127.0.0.2).
   */
  private static InetAddress nonLoopbackAddress() throws SocketException {
    for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
      if (nic.isUp() && !nic.isLoopback()) {
        for (InetAddress address : Collections.list(nic.getInetAddresses())) {
          if (address instanceof Inet4Address && !address.isLoopbackAddress() && !address.isLinkLocalAddress()) {
            return address;
          }
        }
      }
    }
    try {
      return InetAddress.getByAddress(new byte[] {127, 0, 0, 2});
    } catch (java.net.UnknownHostException impossible) {
      throw new IllegalStateException(impossible);
    }
  }

  private static void connect(InetAddress address, int port) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(new InetSocketAddress(address, port), 5_000);
    }
  }

  @Test
  @DisplayName("by default a connection to the admin port through another address of the machine is refused, while the proxy port there answers")
  void loopbackByDefault() throws IOException {
    assertThat(byDefault.config().server().adminHost()).isEqualTo("127.0.0.1");
    // The address does reach this machine: the proxy port (server.host 0.0.0.0) accepts there...
    connect(other, byDefault.proxyPort());
    // ...and the admin port is up, on loopback.
    connect(InetAddress.getByName("127.0.0.1"), byDefault.adminPort());
    assertThatThrownBy(() -> connect(other, byDefault.adminPort()))
        .as("admin port reached through %s", other.getHostAddress())
        .isInstanceOf(ConnectException.class);
  }

  @Test
  @DisplayName("with server.adminHost 0.0.0.0 the admin port answers on the machine's other addresses")
  void explicitlyEverywhere() throws IOException {
    connect(other, everywhere.adminPort());
  }
}
