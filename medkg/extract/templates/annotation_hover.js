// Hovering an annotation outlines all its pieces (a span split around a crossing one) and its table row.
document.addEventListener("mouseover", function (e) {
  document.querySelectorAll(".hl").forEach(function (n) { n.classList.remove("hl"); });
  var t = e.target.closest ? e.target.closest("[data-ann]") : null;
  if (t) document.querySelectorAll('[data-ann="' + t.getAttribute("data-ann") + '"]')
    .forEach(function (n) { n.classList.add("hl"); });
});
