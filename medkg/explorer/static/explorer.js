// medkg evidence explorer: the little behaviour server-rendered pages cannot have. Everything works without it
// but following a highlighted span (spans nest, so they cannot be <a> elements). The hover outline of an
// annotation is extract's annotation_hover.js, the same lines `annotate --format html` inlines.
"use strict";
(function () {
  function follow(event) {
    var span = event.target.closest ? event.target.closest("[data-href]") : null;
    if (span) { window.location.href = span.getAttribute("data-href"); }
  }
  document.addEventListener("click", function (event) {
    if (event.button === 0 && !event.target.closest("a")) { follow(event); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches && event.target.matches("[data-href]")) { follow(event); }
    // Ctrl/Cmd+Enter runs the query in the SPARQL editor
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && event.target.id === "sparql") {
      event.preventDefault();
      event.target.form.submit();
    }
  });
})();
