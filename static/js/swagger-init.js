// Start Swagger UI from the self-hosted bundle; the schema URL comes from the page.
(function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({ url: node.dataset.openapiUrl, dom_id: "#swagger-ui", deepLinking: true });
})();
