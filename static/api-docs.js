// Starts Swagger UI on the API documentation page (/api/v1/docs).
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.dataset.specUrl,
    domNode: node,
    deepLinking: true,
    persistAuthorization: false,
  });
});
