// Build the vendored front-end assets into ../static/vendor/.
//
//   cd frontend && npm ci && npm run build
//
// Output (committed to the repo; the app never loads anything from a CDN):
//   static/vendor/htmx/htmx.min.js
//   static/vendor/katex/{katex.min.css,katex.min.js,contrib/auto-render.min.js,fonts/*}
//   static/vendor/codemirror/editor.js     (esbuild bundle of src/editor.js)
//   static/vendor/axe/axe.min.js           (axe-core, injected by the accessibility tests only; no page loads it)
//   static/vendor/*/LICENSE*               (licences of the shipped code)
//   static/vendor/VERSIONS.txt
//
// The output is deterministic for a given package-lock.json (no timestamps).

import { build } from "esbuild";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, "..");
const vendor = path.join(repoRoot, "static", "vendor");

function pkgDir(name) {
  // Resolve via node_modules directly: some packages' "exports" hide package.json.
  const dir = path.join(here, "node_modules", ...name.split("/"));
  if (!fs.existsSync(path.join(dir, "package.json"))) {
    throw new Error(`${name} is not installed; run "npm ci" in frontend/ first`);
  }
  return dir;
}

function pkgVersion(name) {
  return JSON.parse(fs.readFileSync(path.join(pkgDir(name), "package.json"), "utf8")).version;
}

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

function copyLicense(name, destDir, destName = "LICENSE") {
  const dir = pkgDir(name);
  const file = fs.readdirSync(dir).find((f) => /^licen[cs]e(\.(md|txt))?$/i.test(f));
  if (!file) throw new Error(`no LICENSE file in ${name}`);
  copy(path.join(dir, file), path.join(destDir, destName));
}

function rel(p) {
  return path.relative(repoRoot, p);
}

// Start from a clean slate for the directories this script owns.
for (const sub of ["htmx", "katex", "codemirror", "axe"]) {
  fs.rmSync(path.join(vendor, sub), { recursive: true, force: true });
}
fs.mkdirSync(vendor, { recursive: true });

const written = [];

// --- htmx ------------------------------------------------------------------
{
  const src = pkgDir("htmx.org");
  const out = path.join(vendor, "htmx");
  copy(path.join(src, "dist", "htmx.min.js"), path.join(out, "htmx.min.js"));
  copyLicense("htmx.org", out);
  written.push(path.join(out, "htmx.min.js"));
}

// --- KaTeX -----------------------------------------------------------------
{
  const dist = path.join(pkgDir("katex"), "dist");
  const out = path.join(vendor, "katex");
  for (const f of ["katex.min.css", "katex.min.js", path.join("contrib", "auto-render.min.js")]) {
    copy(path.join(dist, f), path.join(out, f));
    written.push(path.join(out, f));
  }
  // All font formats, so every url(fonts/...) in katex.min.css resolves.
  fs.cpSync(path.join(dist, "fonts"), path.join(out, "fonts"), { recursive: true });
  copyLicense("katex", out);

  // Check that every font the CSS references was copied.
  const css = fs.readFileSync(path.join(out, "katex.min.css"), "utf8");
  const refs = [...css.matchAll(/url\(([^)]+)\)/g)].map((m) => m[1].replace(/["']/g, ""));
  const missing = refs.filter((r) => !fs.existsSync(path.join(out, r)));
  if (refs.length === 0 || missing.length) {
    throw new Error(`katex.min.css references missing files: ${missing.join(", ") || "(none found)"}`);
  }
  written.push(`${path.join(out, "fonts")}/ (${fs.readdirSync(path.join(out, "fonts")).length} files)`);
}

// --- axe-core (tests/e2e/test_a11y.py injects it into the pages it checks) ---
{
  const out = path.join(vendor, "axe");
  copy(path.join(pkgDir("axe-core"), "axe.min.js"), path.join(out, "axe.min.js"));
  copyLicense("axe-core", out);
  written.push(path.join(out, "axe.min.js"));
}

// --- CodeMirror editor bundle ----------------------------------------------
const bundledPackages = new Set();
{
  const out = path.join(vendor, "codemirror");
  const outfile = path.join(out, "editor.js");
  const result = await build({
    entryPoints: [path.join(here, "src", "editor.js")],
    outfile,
    bundle: true,
    format: "iife",
    minify: true,
    target: "es2020",
    platform: "browser",
    legalComments: "eof",
    charset: "utf8",
    metafile: true,
    logLevel: "warning",
  });
  // Collect the npm packages that ended up in the bundle, for licences/versions.
  const [output] = Object.values(result.metafile.outputs);
  for (const [input, info] of Object.entries(output.inputs)) {
    if (!info.bytesInOutput) continue; // tree-shaken away entirely
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
    if (m) bundledPackages.add(m[1]);
  }
  const names = [...bundledPackages].sort();
  const parts = names.map((name) => {
    const dir = pkgDir(name);
    const file = fs.readdirSync(dir).find((f) => /^licen[cs]e(\.(md|txt))?$/i.test(f));
    const text = file ? fs.readFileSync(path.join(dir, file), "utf8").trim() : "(no licence file shipped)";
    return `==== ${name}@${pkgVersion(name)} ====\n\n${text}\n`;
  });
  fs.writeFileSync(
    path.join(out, "LICENSES.txt"),
    "Licences of the packages bundled into editor.js\n\n" + parts.join("\n"),
  );
  written.push(outfile);
}

// --- VERSIONS.txt ------------------------------------------------------------
{
  const direct = ["htmx.org", "katex", "axe-core"];
  const lines = [
    "# Vendored front-end assets. Generated by frontend/build.mjs; do not edit.",
    "# Rebuild: cd frontend && npm ci && npm run build  (or: make assets)",
    "",
    ...direct.map((n) => `${n} ${pkgVersion(n)}`),
    "",
    "# codemirror/editor.js bundles:",
    ...[...bundledPackages].sort().map((n) => `${n} ${pkgVersion(n)}`),
    "",
    "# built with:",
    `esbuild ${pkgVersion("esbuild")}`,
    "",
  ];
  fs.writeFileSync(path.join(vendor, "VERSIONS.txt"), lines.join("\n"));
  written.push(path.join(vendor, "VERSIONS.txt"));
}

for (const f of written) {
  const p = f.split(" ")[0];
  const size = fs.existsSync(p) && fs.statSync(p).isFile() ? ` ${(fs.statSync(p).size / 1024).toFixed(1)} KiB` : "";
  console.log(`wrote ${rel(f)}${size}`);
}
