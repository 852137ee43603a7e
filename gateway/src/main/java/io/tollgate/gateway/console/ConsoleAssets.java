package io.tollgate.gateway.console;

import io.vertx.ext.web.Router;
import io.vertx.ext.web.handler.StaticHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * The console's static files: its own stylesheet and scripts ({@code console-assets/} on the
 * class path) and the front-end libraries from their WebJars, at paths that carry each library's
 * version as its WebJar declares it, so the pom is the one place the versions live.
 */
public final class ConsoleAssets {

  public static final String HTMX = lib("org.webjars.npm", "htmx.org", "dist/htmx.min.js");
  public static final String UPLOT_JS = lib("org.webjars.npm", "uplot", "dist/uPlot.iife.min.js");
  public static final String UPLOT_CSS = lib("org.webjars.npm", "uplot", "dist/uPlot.min.css");
  public static final String SWAGGER_JS = lib("org.webjars", "swagger-ui", "swagger-ui-bundle.js");
  public static final String SWAGGER_CSS = lib("org.webjars", "swagger-ui", "swagger-ui.css");
  public static final String CSS = "/console/assets/console.css";
  public static final String JS = "/console/assets/console.js";
  public static final String SWAGGER_INIT = "/console/assets/swagger-init.js";

  private ConsoleAssets() {
  }

  static void mount(Router router) {
    router.get("/console/lib/*").handler(StaticHandler.create("META-INF/resources/webjars").setMaxAgeSeconds(86_400));
    router.get("/console/assets/*").handler(StaticHandler.create("console-assets").setMaxAgeSeconds(300));
  }

  private static String lib(String group, String artifact, String file) {
    String pom = "META-INF/maven/" + group + "/" + artifact + "/pom.properties";
    try (InputStream in = ConsoleAssets.class.getClassLoader().getResourceAsStream(pom)) {
      if (in == null) {
        throw new IllegalStateException("the WebJar " + group + ":" + artifact + " is not on the class path (" + pom + ")");
      }
      Properties p = new Properties();
      p.load(in);
      return "/console/lib/" + artifact + "/" + p.getProperty("version") + "/" + file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
