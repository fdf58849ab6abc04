// Render math with the vendored KaTeX, on page load and inside every fragment htmx swaps in.
(function () {
  var options = {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
    ],
    ignoredClasses: ["cm-editor", "memlab-editor"],
    throwOnError: false,
  };
  function renderMath(root) {
    if (window.renderMathInElement) window.renderMathInElement(root, options);
  }
  document.addEventListener("DOMContentLoaded", function () {
    renderMath(document.body);
    document.body.addEventListener("htmx:load", function (event) { renderMath(event.target); });
  });
})();
