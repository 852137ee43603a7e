// Swagger UI over the admin API's own OpenAPI document (no inline script: the console's CSP forbids it).
window.addEventListener("load", function () {
  var el = document.getElementById("swagger-ui");
  if (el && window.SwaggerUIBundle) {
    window.SwaggerUIBundle({ url: el.getAttribute("data-url"), domNode: el, deepLinking: false });
  }
});
