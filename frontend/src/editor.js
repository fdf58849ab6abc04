// memlab code editor: progressive enhancement of <textarea data-code-editor>.
//
// Without JavaScript the plain textarea works as-is. With this bundle loaded,
// every `textarea[data-code-editor]` gets a CodeMirror 6 editor inserted right
// after it; the textarea is hidden but stays in the form and its value is kept
// in sync on every change, so ordinary form POSTs and htmx hx-post both send
// the code.
//
// The editor is inserted as <code class="memlab-editor"><div class="cm-editor">.
//
// Markup contract (see frontend/README.md):
//   <label for="code">Your code</label>
//   <textarea id="code" name="code" data-code-editor
//             data-reset-source="starter-code">...</textarea>
//   <template id="starter-code">...</template>
//   <button type="button" data-editor-reset>Reset to starter code</button>
//
// Ctrl-Enter / Cmd-Enter submits the enclosing form (form.requestSubmit()).
// window.memlabEditor = {get, getValue, setValue, markError, enhance} is exposed for
// end-to-end tests and page scripts.

import { EditorState, Prec } from "@codemirror/state";
import {
  EditorView,
  keymap,
  lineNumbers,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  drawSelection,
} from "@codemirror/view";
import {
  defaultKeymap,
  history,
  historyKeymap,
  indentWithTab,
} from "@codemirror/commands";
import {
  bracketMatching,
  defaultHighlightStyle,
  indentOnInput,
  indentUnit,
  syntaxHighlighting,
} from "@codemirror/language";
import { python } from "@codemirror/lang-python";
import { lintGutter, setDiagnostics } from "@codemirror/lint";

const SELECTOR = "textarea[data-code-editor]";
const WRAPPER_CLASS = "memlab-editor";
const ENHANCED_ATTR = "data-code-editor-enhanced";

/** textarea -> EditorView for live editors. */
const views = new WeakMap();
/** All live (textarea, view) pairs, so detached ones can be destroyed. */
const live = new Set();

const theme = EditorView.theme(
  {
    "&": {
      backgroundColor: "#fff",
      color: "#1f2328",
      border: "1px solid #8c959f",
      borderRadius: "4px",
      fontSize: "0.95rem",
    },
    "&.cm-focused": {
      outline: "2px solid #0969da",
      outlineOffset: "1px",
    },
    ".cm-scroller": {
      fontFamily:
        'ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace',
      lineHeight: "1.5",
      minHeight: "16em",
    },
    ".cm-content": {
      minHeight: "16em",
      caretColor: "#1f2328",
    },
    ".cm-gutters": {
      backgroundColor: "#f6f8fa",
      color: "#57606a",
      borderRight: "1px solid #d0d7de",
    },
    ".cm-activeLine": { backgroundColor: "#f3f6fa" },
    ".cm-activeLineGutter": { backgroundColor: "#e7ecf2" },
  },
  { dark: false },
);

function labelFor(textarea) {
  const own = textarea.getAttribute("aria-label");
  if (own) return own.trim();
  const labelledBy = textarea.getAttribute("aria-labelledby");
  if (labelledBy) {
    const text = labelledBy
      .split(/\s+/)
      .map((id) => document.getElementById(id))
      .filter(Boolean)
      .map((el) => el.textContent.trim())
      .join(" ");
    if (text) return text;
  }
  if (textarea.labels && textarea.labels.length) {
    const text = textarea.labels[0].textContent.trim();
    if (text) return text;
  }
  return "Code editor";
}

function submitForm(form) {
  if (!form) return false;
  if (typeof form.requestSubmit === "function") {
    form.requestSubmit();
  } else {
    // Very old browsers: fire a submit event (htmx listens to it), then submit.
    const ev = new Event("submit", { bubbles: true, cancelable: true });
    if (form.dispatchEvent(ev)) form.submit();
  }
  return true;
}

function resolveTextarea(target) {
  if (typeof target === "string") {
    return document.getElementById(target) || document.querySelector(target);
  }
  return target || null;
}

/** Text of the <template> / <script type="text/plain"> named by data-reset-source. */
function resetText(textarea) {
  const id = textarea.getAttribute("data-reset-source");
  if (!id) return null;
  const src = document.getElementById(id);
  if (!src) return null;
  let text =
    src instanceof HTMLTemplateElement ? src.content.textContent : src.textContent;
  // Mirror <textarea>/<pre> parsing: drop a single leading newline.
  if (text.startsWith("\r\n")) text = text.slice(2);
  else if (text.startsWith("\n")) text = text.slice(1);
  return text;
}

function setValue(target, text) {
  const textarea = resolveTextarea(target);
  if (!textarea) return false;
  const view = views.get(textarea);
  text = String(text);
  if (!view) {
    textarea.value = text;
    return true;
  }
  view.dispatch({
    changes: { from: 0, to: view.state.doc.length, insert: text },
    selection: { anchor: 0 },
    userEvent: "input.replace",
  });
  return true;
}

function destroy(textarea) {
  const view = views.get(textarea);
  if (!view) return;
  view.destroy();
  views.delete(textarea);
  live.delete(textarea);
  const wrapper = view.dom.parentNode;
  if (wrapper && wrapper.parentNode) wrapper.parentNode.removeChild(wrapper);
}

/** Destroy editors whose textarea has been removed from the document (htmx swaps). */
function sweep() {
  for (const textarea of Array.from(live)) {
    if (!textarea.isConnected) destroy(textarea);
  }
}

function enhanceOne(textarea) {
  if (views.has(textarea)) return views.get(textarea);

  // A node restored from an htmx history snapshot (or cloned) may carry a
  // dead copy of a previous editor: remove it and start fresh.
  if (textarea.hasAttribute(ENHANCED_ATTR)) {
    const next = textarea.nextElementSibling;
    if (next && next.classList.contains(WRAPPER_CLASS)) next.remove();
    textarea.removeAttribute(ENHANCED_ATTR);
  }

  const form = textarea.form || textarea.closest("form");
  const contentAttrs = { "aria-label": labelFor(textarea) };
  const describedBy = textarea.getAttribute("aria-describedby");
  if (describedBy) contentAttrs["aria-describedby"] = describedBy;
  if (textarea.readOnly || textarea.disabled) contentAttrs["aria-readonly"] = "true";

  const submitKeys = Prec.highest(
    keymap.of(
      // Mod = Cmd on macOS, Ctrl elsewhere; bind Ctrl and Meta explicitly too
      // so either chord works on every platform.
      ["Mod-Enter", "Ctrl-Enter", "Meta-Enter"].map((key) => ({
        key,
        run: () => submitForm(textarea.form || textarea.closest("form")),
      })),
    ),
  );

  const syncToTextarea = EditorView.updateListener.of((update) => {
    if (!update.docChanged) return;
    textarea.value = update.state.doc.toString();
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  });

  const state = EditorState.create({
    doc: textarea.value,
    extensions: [
      submitKeys,
      lineNumbers(),
      highlightActiveLineGutter(),
      highlightSpecialChars(),
      history(),
      drawSelection(),
      indentOnInput(),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      bracketMatching(),
      highlightActiveLine(),
      keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
      python(),
      indentUnit.of("    "),
      EditorState.tabSize.of(4),
      EditorState.readOnly.of(textarea.readOnly || textarea.disabled),
      EditorView.editable.of(!textarea.disabled),
      EditorView.contentAttributes.of(contentAttrs),
      lintGutter(),
      theme,
      syncToTextarea,
    ],
  });

  // The editor sits in a <code> wrapper: KaTeX auto-render (and similar
  // DOM-walking scripts) skip <code> by default, and would otherwise rewrite
  // "$...$" inside the student's code into math, corrupting the document.
  const wrapper = document.createElement("code");
  wrapper.className = WRAPPER_CLASS;
  wrapper.style.cssText =
    "display:block;margin:0;padding:0;border:0;background:none;color:inherit;font:inherit;white-space:normal";
  const view = new EditorView({ state, parent: wrapper });
  textarea.insertAdjacentElement("afterend", wrapper);
  textarea.hidden = true;
  textarea.style.display = "none";
  textarea.setAttribute(ENHANCED_ATTR, "");
  views.set(textarea, view);
  live.add(textarea);

  // Clicking the textarea's <label> focuses the editor instead.
  if (textarea.labels) {
    for (const label of textarea.labels) {
      label.addEventListener("click", (ev) => {
        if (!views.has(textarea)) return;
        ev.preventDefault();
        views.get(textarea).focus();
      });
    }
  }

  // A native form reset restores textarea.defaultValue: mirror it.
  if (form) {
    form.addEventListener("reset", () => {
      setTimeout(() => {
        if (views.has(textarea)) setValue(textarea, textarea.value);
      }, 0);
    });
  }

  return view;
}

function enhance(root) {
  sweep();
  const scope = root && root.querySelectorAll ? root : document;
  const found = [];
  if (scope.matches && scope.matches(SELECTOR)) found.push(scope);
  found.push(...scope.querySelectorAll(SELECTOR));
  for (const textarea of found) enhanceOne(textarea);
}

// Reset buttons: <button type="button" data-editor-reset> inside the form.
// data-editor-reset="<textarea id>" targets one editor; empty resets every
// editor in the form that has data-reset-source.
document.addEventListener("click", (ev) => {
  const button = ev.target instanceof Element ? ev.target.closest("[data-editor-reset]") : null;
  if (!button) return;
  const form = button.form || button.closest("form");
  const targetId = button.getAttribute("data-editor-reset");
  let textareas;
  if (targetId) {
    const t = document.getElementById(targetId);
    textareas = t ? [t] : [];
  } else if (form) {
    textareas = Array.from(form.querySelectorAll(SELECTOR));
  } else {
    textareas = [];
  }
  let handled = false;
  for (const textarea of textareas) {
    const text = resetText(textarea);
    if (text === null) continue;
    setValue(textarea, text);
    handled = true;
  }
  if (handled) {
    ev.preventDefault();
    const first = views.get(textareas[0]);
    if (first) first.focus();
  }
});

window.memlabEditor = {
  /** The CodeMirror EditorView for a textarea (element, id or selector), or null. */
  get(target) {
    const textarea = resolveTextarea(target);
    return (textarea && views.get(textarea)) || null;
  },
  /** Current code (editor document, or textarea value if not enhanced). */
  getValue(target) {
    const textarea = resolveTextarea(target);
    if (!textarea) return null;
    const view = views.get(textarea);
    return view ? view.state.doc.toString() : textarea.value;
  },
  /** Replace the whole document; the textarea is updated too. */
  setValue,
  /** Mark line ``line`` (1-based) with an error in the lint gutter (line 0 or none: clear the marks). The
   * mark goes when the code changes: it describes the code that was checked. */
  markError(target, line, message) {
    const textarea = resolveTextarea(target);
    const view = textarea && views.get(textarea);
    if (!view) return false;
    const doc = view.state.doc;
    const diagnostics = [];
    if (line >= 1 && line <= doc.lines) {
      const at = doc.line(line);
      diagnostics.push({ from: at.from, to: at.to, severity: "error", message });
    }
    view.dispatch(setDiagnostics(view.state, diagnostics));
    return true;
  },
  /** Enhance all matching textareas under root (default: document). */
  enhance,
};

// htmx:load fires for the initial page and for every swapped-in fragment
// (events bubble, so listening on document works whether htmx loads before
// or after this script). Without htmx, DOMContentLoaded covers the page.
document.addEventListener("htmx:load", (ev) => enhance(ev.target));
// htmx snapshots innerHTML for history; a textarea serialises its
// defaultValue (text content), so copy the live code in first so that the
// Back button restores what the student had typed.
document.addEventListener("htmx:beforeHistorySave", () => {
  for (const textarea of live) {
    if (textarea.isConnected) textarea.textContent = textarea.value;
  }
});
if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => enhance(document));
} else {
  enhance(document);
}
