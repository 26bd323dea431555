// The README and docs/ as data for the tests that check them: the files,
// their headings' anchors (GitHub's rules), their links, and the code
// blocks marked `<!-- snippet: name -->` (the block right after the
// marker). A snippet may appear in several files (the README's quick start
// and its guide): every copy must be the same text, so a test that checks
// one checks them all.

import { readFileSync, readdirSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * README.md, every docs/**\/*.md and the npm package's own README
 * (pkg/README.md, whose snippets are the docs' own), relative to the
 * repository root.
 */
export function docFiles() {
  const walk = (dir) =>
    readdirSync(resolve(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(`${dir}/${e.name}`) : e.name.endsWith(".md") ? [`${dir}/${e.name}`] : [],
    );
  return ["README.md", ...walk("docs").sort(), "pkg/README.md"];
}

const read = (file) => readFileSync(resolve(root, file), "utf8");

/** The text outside fenced code blocks, line by line (null inside one). */
function proseLines(text) {
  let fence = null;
  return text.split("\n").map((line) => {
    const m = line.match(/^\s*(```+|~~~+)/);
    if (m) {
      if (fence === null) fence = m[1];
      else if (m[1].startsWith(fence)) fence = null;
      return null;
    }
    return fence === null ? line : null;
  });
}

/** A heading's anchor as GitHub makes it. */
export function slug(heading) {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // links: their text
    .replace(/<[^>]+>/g, "") // inline HTML
    .replace(/[`*]/g, "");
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "")
    .replace(/ /g, "-");
}

/** Every anchor a file defines: its headings (duplicates get -1, -2…) and `<a id>`/`<a name>`. */
export function anchors(file) {
  const seen = new Map();
  const out = new Set();
  for (const line of proseLines(read(file))) {
    if (line === null) continue;
    const h = line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
    if (h) {
      const base = slug(h[1]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n ? `${base}-${n}` : base);
    }
    for (const a of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) out.add(a[1]);
  }
  return out;
}

/** Every inline link `[text](target)` outside code: { target, line }. */
export function links(file) {
  const out = [];
  proseLines(read(file)).forEach((line, i) => {
    if (line === null) return;
    // Inline code may hold brackets that are no link.
    const text = line.replace(/`[^`]*`/g, "``");
    for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ target: m[1], line: i + 1 });
  });
  // A link can wrap: "[text\nmore](target)" is found on the line of its target.
  return out;
}

/**
 * The `make <target>` commands a file gives: in inline code (`make demo`)
 * and on the lines of its code blocks.
 */
export function makeTargets(file) {
  const out = [];
  const fences = proseLines(read(file));
  read(file)
    .split("\n")
    .forEach((line, i) => {
      const spans = fences[i] === null ? [line] : [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
      for (const span of spans) {
        for (const m of span.matchAll(/(?:^|[\s;&|(])make\s+((?:-[^\s`]+\s+)*)([a-z][a-z0-9-]*)/g)) out.push({ target: m[2], line: i + 1 });
      }
    });
  return out;
}

/** name -> { code, lang, line } for each marked block of `file`. */
export function snippetsOf(file) {
  const lines = read(file).split("\n");
  const out = new Map();
  lines.forEach((line, i) => {
    const m = line.match(/^<!-- snippet: ([a-z0-9-]+) -->$/);
    if (!m) return;
    const open = lines[i + 1]?.match(/^```(\S*)$/);
    if (!open) throw new Error(`${file}:${i + 1}: snippet ${m[1]} is not followed by a code block`);
    const end = lines.indexOf("```", i + 2);
    if (end < 0) throw new Error(`${file}:${i + 1}: snippet ${m[1]}'s code block does not end`);
    if (out.has(m[1])) throw new Error(`${file}:${i + 1}: snippet ${m[1]} twice in one file`);
    out.set(m[1], { code: lines.slice(i + 2, end).join("\n") + "\n", lang: open[1], line: i + 1 });
  });
  return out;
}

/** Every snippet of every doc file: name -> [{ file, code, lang, line }]. */
export function allSnippets() {
  const out = new Map();
  for (const file of docFiles()) {
    for (const [name, s] of snippetsOf(file)) {
      if (!out.has(name)) out.set(name, []);
      out.get(name).push({ file, ...s });
    }
  }
  return out;
}

/**
 * The code of snippet `name`: the same in every file that has it (else
 * throws, naming both). `file` restricts the search to one file.
 */
export function snippet(name, file) {
  const copies = (allSnippets().get(name) ?? []).filter((s) => !file || s.file === file);
  if (!copies.length) throw new Error(`no snippet "${name}"${file ? ` in ${file}` : ""} (a <!-- snippet: ${name} --> marker before its code block)`);
  for (const c of copies.slice(1)) {
    if (c.code !== copies[0].code) throw new Error(`snippet "${name}" differs between ${copies[0].file}:${copies[0].line} and ${c.file}:${c.line}`);
  }
  return copies[0].code;
}

/** Where a snippet is, for messages: "README.md:12, docs/x.md:3". */
export const where = (name) =>
  (allSnippets().get(name) ?? []).map((s) => `${s.file}:${s.line}`).join(", ");

export { read, relative };
