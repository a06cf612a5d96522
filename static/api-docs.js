// Starts Swagger UI on /api/docs (kept out of the page so the CSP needs no inline script).
globalThis.SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger", deepLinking: true });
