// The README and docs/ hold together: every relative link and #anchor in
// README.md and docs/**/*.md resolves (the file is there; the heading is,
// by GitHub's anchor rules, or an <a id>), every `make <target>` they name
// is a target of the Makefile, and every snippet marker is followed by a
// code block whose copies (a snippet shown in two files) are the same.
// Run by `make pkg-test`; needs nothing built. Exit code 0 or 1.

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { allSnippets, anchors, docFiles, links, makeTargets, root, snippet } from "./markdown.mjs";

const problems = [];
const files = docFiles();
const makefile = readFileSync(resolve(root, "Makefile"), "utf8");
const targets = new Set([...makefile.matchAll(/^([a-z][a-z0-9-]*):/gm)].map((m) => m[1]));
const anchorCache = new Map();
const anchorsOf = (file) => {
  if (!anchorCache.has(file)) anchorCache.set(file, anchors(file));
  return anchorCache.get(file);
};

let linkCount = 0;
for (const file of files) {
  for (const { target, line } of links(file)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …
    linkCount++;
    const [path, anchor] = target.split("#");
    const resolved = path ? resolve(root, dirname(file), decodeURI(path)) : resolve(root, file);
    const rel = resolved.slice(root.length + 1);
    if (!resolved.startsWith(root + "/") && resolved !== root) {
      problems.push(`${file}:${line}: ${target} leaves the repository`);
    } else if (!existsSync(resolved)) {
      problems.push(`${file}:${line}: ${target}: no file ${rel}`);
    } else if (anchor !== undefined) {
      if (statSync(resolved).isDirectory() || !rel.endsWith(".md")) {
        problems.push(`${file}:${line}: ${target}: an anchor into ${rel}, which is not a Markdown file`);
      } else if (!anchorsOf(rel).has(anchor)) {
        problems.push(`${file}:${line}: ${target}: ${rel} has no heading #${anchor}`);
      }
    }
  }
  for (const { target, line } of makeTargets(file)) {
    if (!targets.has(target)) problems.push(`${file}:${line}: make ${target}: no such Makefile target`);
  }
}

let snippetCount = 0;
try {
  for (const name of allSnippets().keys()) {
    snippet(name); // throws when two copies differ
    snippetCount++;
  }
} catch (e) {
  problems.push(e.message);
}

if (problems.length) {
  console.error(`docs links: ${problems.length} problem(s)\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`docs links: ${linkCount} relative links and anchors in ${files.length} files resolve; make targets exist; ${snippetCount} snippets, copies identical`);
