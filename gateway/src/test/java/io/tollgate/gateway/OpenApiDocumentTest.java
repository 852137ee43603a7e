package io.tollgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

@DisplayName("The OpenAPI document")
class OpenApiDocumentTest {

  @Test
  @DisplayName("describes exactly the routes the admin port mounts")
  @SuppressWarnings("unchecked")
  void matchesMountedRoutes() throws Exception {
    Map<String, Object> doc;
    try (InputStream in = getClass().getClassLoader().getResourceAsStream("openapi/tollgate-admin.yaml")) {
      doc = new Yaml().load(in);
    }
    List<String> documented = new ArrayList<>();
    ((Map<String, Map<String, Object>>) doc.get("paths")).forEach((path, item) -> item.keySet().stream()
        .filter(k -> List.of("get", "post", "put", "patch", "delete").contains(k))
        .forEach(method -> documented.add(method + " " + path)));
    try (Tollgate gateway = GatewayHarness.start("routes: []\n", Map.of())) {
      assertThat(documented).containsExactlyInAnyOrderElementsOf(gateway.adminRoutes());
    }
  }
}
