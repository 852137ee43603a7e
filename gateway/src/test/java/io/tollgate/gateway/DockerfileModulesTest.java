package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The Dockerfile's build stage copies the reactor module by module (for layer caching), so a
 * module added to the parent POM but not to the Dockerfile breaks `docker build .` while every
 * Maven build stays green. This happened once (the `embedded` module); the image is only built
 * by hand (deploy/podman), so this test is what notices.
 */
@DisplayName("The Dockerfile builds every module of the reactor")
class DockerfileModulesTest {

  @Test
  @DisplayName("each <module> of the parent POM has its pom.xml and src copied into the build stage")
  void everyModuleIsCopied() throws Exception {
    Path root = Path.of("..").toAbsolutePath().normalize();
    String pom = Files.readString(root.resolve("pom.xml"));
    String dockerfile = Files.readString(root.resolve("Dockerfile"));
    Matcher m = Pattern.compile("<module>([^<]+)</module>").matcher(pom);
    List<String> modules = m.results().map(r -> r.group(1).trim()).toList();
    assertThat(modules).as("the parent POM's modules").contains("config", "gateway");
    for (String module : modules) {
      assertThat(dockerfile).as("Dockerfile copies %s/pom.xml", module).contains("COPY " + module + "/pom.xml " + module + "/");
      assertThat(dockerfile).as("Dockerfile copies %s/src", module).contains("COPY " + module + "/src " + module + "/src");
    }
  }
}
