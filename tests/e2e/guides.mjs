// The framework guides (docs/guides/*.md) show the example apps' files:
// every fenced block but shell commands has `<!-- file: <path> -->` (a
// path from the repository's root) on the line above it and is that file,
// word for word, so the code a user pastes is the code the examples test
// builds and drives. Used by examples.test.mjs before it builds anything.

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { root } from "./dev-server.mjs";

// Blocks that are commands to type, not files.
const COMMANDS = ["sh", "console"];

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Checks the guide at `rel` (from the root); the number of snippets compared with their files. */
export function checkGuide(rel) {
  const lines = readFileSync(resolve(root, rel), "utf8").split("\n");
  let checked = 0;
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    const where = `${rel}:${i + 1}`;
    // An indented block (in a list) would need its indentation stripped to compare: not supported.
    assert(indent === "", `${where}: an indented code block; put snippets at the start of the line`);
    let end = i + 1;
    while (end < lines.length && lines[end] !== fence) end += 1;
    assert(end < lines.length, `${where}: the code block is not closed`);
    const body = lines.slice(i + 1, end).join("\n") + "\n";
    const marker = /^<!-- file: (\S+) -->$/.exec(lines[i - 1] ?? "");
    if (marker) {
      const file = resolve(root, marker[1]);
      assert(existsSync(file), `${where}: ${marker[1]} does not exist`);
      const want = readFileSync(file, "utf8");
      if (want !== body) {
        const [a, b] = [want.split("\n"), body.split("\n")];
        const n = a.findIndex((line, k) => line !== b[k]);
        throw new Error(`${where}: the snippet differs from ${marker[1]} at its line ${n + 1}: file ${JSON.stringify(a[n])}, guide ${JSON.stringify(b[n])}; paste the file into the guide`);
      }
      checked += 1;
    } else {
      assert(COMMANDS.includes(lang), `${where}: a ${lang || "plain"} block without <!-- file: … --> on the line above it: every snippet but shell commands is an example app's file`);
    }
    i = end;
  }
  assert(checked > 0, `${rel}: no snippet of an example's file`);
  return checked;
}
