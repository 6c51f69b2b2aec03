// Starts Swagger UI (served from /vendor/swagger-ui) on the app's OpenAPI document.
(function () {
  'use strict';
  var box = document.getElementById('swagger-ui');
  if (!box || typeof SwaggerUIBundle !== 'function') { return; }
  SwaggerUIBundle({
    url: box.dataset.spec, dom_id: '#swagger-ui', deepLinking: true,
    // the API is used with the session cookie and CSRF header of a signed-in page
    supportedSubmitMethods: ['get'], validatorUrl: null
  });
  box.dataset.rendered = 'yes';
})();
