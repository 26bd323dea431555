// The example apps' install from the `npm pack` tarball, shared by
// examples.test.mjs and static-example.test.mjs.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { root } from "./dev-server.mjs";

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/**
 * Packs pkg/ into target/ unless the tarball there is newer than every
 * file of pkg/ (an earlier test of the same run packed it); the tarball's
 * path and "npm pack" or "reused".
 */
export function pack() {
  const version = JSON.parse(readFileSync(resolve(root, "pkg/package.json"), "utf8")).version;
  for (const f of ["auto.js", "react.js", "chathub_loader_bg.wasm"]) assert(existsSync(resolve(root, "pkg", f)), `missing pkg/${f} (run make pkg)`);
  const tarball = resolve(root, `target/chathub-loader-${version}.tgz`);
  const newest = Math.max(...readdirSync(resolve(root, "pkg")).map((f) => statSync(resolve(root, "pkg", f)).mtimeMs));
  if (existsSync(tarball) && statSync(tarball).mtimeMs > newest) return [tarball, "reused"];
  execFileSync("npm", ["pack", "--pack-destination", "../target", "--loglevel=error"], { cwd: resolve(root, "pkg"), stdio: ["ignore", "ignore", "inherit"] });
  return [tarball, "npm pack"];
}

/**
 * `npm ci` in the example `dir` unless its package.json, lockfile and the
 * tarball are unchanged since the last one; then checks that `files` of the
 * installed package are byte for byte pkg/'s. "npm ci" or "reused".
 */
export function install(dir, tarball, files) {
  const manifest = JSON.parse(readFileSync(resolve(dir, "package.json"), "utf8"));
  const wanted = resolve(dir, manifest.dependencies["chathub-loader"].replace(/^file:/, ""));
  assert(wanted === tarball, `${dir}/package.json depends on ${wanted}, but npm pack made ${tarball}: update the file: path`);
  const lock = JSON.parse(readFileSync(resolve(dir, "package-lock.json"), "utf8"));
  // With an integrity in the lock, npm installs its cached copy of an
  // older tarball of the same name: the lock must not have one.
  assert(
    !lock.packages["node_modules/chathub-loader"]?.integrity,
    `${dir}/package-lock.json has an "integrity" for chathub-loader: delete that line (npm would install a stale cached copy of the tarball)`,
  );
  const hash = createHash("sha256");
  for (const f of [resolve(dir, "package.json"), resolve(dir, "package-lock.json"), tarball]) hash.update(readFileSync(f));
  const stamp = hash.digest("hex");
  const stampFile = resolve(dir, "node_modules/.chathub-example-stamp");
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return "reused";
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdio: ["ignore", "inherit", "inherit"] });
  // The package is the tarball just packed: a copy (not a link into pkg/),
  // byte for byte what make pkg built.
  const installed = resolve(dir, "node_modules/chathub-loader");
  assert(!lstatSync(installed).isSymbolicLink(), `${installed} is a link, not an install of the tarball`);
  for (const f of files) {
    assert(readFileSync(resolve(installed, f)).equals(readFileSync(resolve(root, "pkg", f))), `${installed}/${f} differs from pkg/${f}`);
  }
  writeFileSync(stampFile, stamp);
  return "npm ci";
}
