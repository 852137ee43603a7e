package io.tollgate.gateway;

import io.tollgate.config.ConfigException;
import io.tollgate.config.ConfigLoader;
import io.tollgate.config.TollgateConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point: {@code java -jar tollgate.jar [--config tollgate.yaml]}. Exit code 2 means the
 * configuration was refused (every problem is printed), 1 that startup failed.
 */
public final class Main {

  private static final Logger log = LoggerFactory.getLogger(Main.class);

  private Main() {
  }

  public static void main(String[] args) {
    TollgateConfig config;
    try {
      config = ConfigLoader.load(args, System.getenv());
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    Tollgate tollgate;
    try {
      tollgate = Tollgate.start(config);
    } catch (RuntimeException e) {
      log.error("Tollgate failed to start: {}", e.getMessage(), e);
      System.exit(1);
      return;
    }
    // SIGTERM and SIGINT run shutdown hooks: drain in-flight requests, then stop embedded servers.
    Runtime.getRuntime().addShutdownHook(new Thread(tollgate::close, "tollgate-shutdown"));
  }
}
