// Start Swagger UI from the self-hosted bundle; the schema URL comes from the page.
// Operations start collapsed: rendering every one expanded blocked the main thread for seconds.
(function () {
  var node = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: node.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    docExpansion: "none",
    defaultModelsExpandDepth: 0
  });
})();
