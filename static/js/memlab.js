// Render math with the vendored KaTeX, on page load and inside every fragment htmx swaps in.
(function () {
  var options = {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "$", right: "$", display: false },
      { left: "\\(", right: "\\)", display: false },
    ],
    ignoredClasses: ["cm-editor", "memlab-editor", "no-math"], // no-math: text that shows a literal $ (form labels)
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

// A box that scrolls sideways (a wide table, display math, a long line of code) is reachable from the keyboard
// (WCAG 2.1.1, axe's scrollable-region-focusable): one that overflows and holds nothing focusable becomes a tab
// stop, and an editable CodeMirror editor's content is one itself (it scrolls with the caret).
(function () {
  var BOXES = ".prose table, .katex-display, span.arithmatex, pre, .table-scroll, .cm-scroller";
  var FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])";
  function reachable() {
    document.querySelectorAll(BOXES).forEach(function (box) {
      var editable = box.querySelector('.cm-content[contenteditable="true"]');
      if (editable) { editable.setAttribute("tabindex", "0"); return; }
      if (box.scrollWidth <= box.clientWidth + 1 || box.querySelector(FOCUSABLE)) return;
      box.setAttribute("tabindex", "0");
    });
  }
  var pending = null;
  function soon() { clearTimeout(pending); pending = setTimeout(reachable, 150); }
  window.addEventListener("load", function () {
    reachable();
    window.addEventListener("resize", soon);
    document.body.addEventListener("htmx:load", reachable);  // after the fragment's math is rendered
  });
})();

// Exercise page (lead): the editor's code is saved as a draft a second after it changes, leaving with code not
// yet saved asks first, and "Reset to starter code" asks before it replaces the code.
(function () {
  function csrf(form) {
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  document.addEventListener("DOMContentLoaded", function () {
    var area = document.querySelector("textarea[data-draft-url]");
    if (!area) return;
    var saved = area.value;
    var sending = false;
    function save() {
      if (sending || area.value === saved) return;
      var body = new FormData();
      var value = area.value;
      body.append("code", value);
      sending = true;
      fetch(area.dataset.draftUrl, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": csrf(area.form) },
      }).then(function (response) {
        if (response.ok) saved = value;
      }).catch(function () {}).finally(function () { sending = false; });
    }
    setInterval(save, 1000);
    window.addEventListener("beforeunload", function (event) {
      if (area.value !== saved) {
        save();
        event.preventDefault();
        event.returnValue = "";
      }
    });
  });
  // A syntax error under the editor marks its line in the editor's lint gutter; any other feedback clears it.
  function markSyntaxError() {
    if (!window.memlabEditor || !document.querySelector("#id_code")) return;
    var error = document.querySelector("#submit-feedback .error p");
    var found = error && /^(SyntaxError|IndentationError|TabError) on line (\d+): (.*)$/.exec(error.textContent);
    window.memlabEditor.markError("#id_code", found ? Number(found[2]) : 0, found ? found[1] + ": " + found[3] : "");
  }
  document.addEventListener("DOMContentLoaded", function () {
    window.addEventListener("load", markSyntaxError);
    document.body.addEventListener("htmx:load", markSyntaxError);
  });
  document.addEventListener("click", function (event) {
    var reset = event.target.closest && event.target.closest("[data-editor-reset]");
    if (!reset) return;
    var ok = window.confirm("Replace your code with the starter code? Code you have not submitted is lost.");
    if (!ok) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
})();
