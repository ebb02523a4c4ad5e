// Builds the dashboard (web/) into dist/web: type-check (tsc) then Vite. The result is cached under
// $XDG_CACHE_HOME/dls/web/<key> (default ~/.cache), the key being a hash of the lockfile, web/ and this script, so a
// second build of the same sources (npm test after npm run build, the lab, the benches, CI with a kept cache) copies
// it instead of rebuilding. DLS_WEB_CACHE=off builds every time. Prints the gzipped size of what a browser loads.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

const root = path.resolve(import.meta.dirname, '..');
const out = path.join(root, 'dist/web');

function files(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((d) => (d.isDirectory() ? files(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

const hash = createHash('sha256');
for (const f of [path.join(root, 'package-lock.json'), import.meta.filename, ...files(path.join(root, 'web'))]) {
  if (/\.spec\.tsx?$/.test(f)) continue; // unit specs are not part of the bundle
  hash.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
}
const key = hash.digest('hex').slice(0, 24);
const cacheRoot = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'dls/web');
const cached = path.join(cacheRoot, key);
const useCache = process.env.DLS_WEB_CACHE !== 'off';

if (useCache && fs.existsSync(path.join(cached, 'index.html'))) {
  fs.rmSync(out, { recursive: true, force: true });
  fs.cpSync(cached, out, { recursive: true });
  console.log(`web: dist/web from cache ${key}`);
} else {
  const bin = (name) => path.join(root, 'node_modules/.bin', name);
  const step = (cmd, args) => {
    try {
      execFileSync(bin(cmd), args, { stdio: 'inherit', cwd: root });
    } catch {
      console.error(`web: ${cmd} failed (see above)`);
      process.exit(1);
    }
  };
  step('tsc', ['-p', path.join(root, 'web/tsconfig.json')]);
  step('vite', ['build', '--config', path.join(root, 'web/vite.config.mts'), '--logLevel', 'warn']);
  if (useCache) {
    fs.rmSync(cacheRoot, { recursive: true, force: true }); // keep one build: the cache is for repeated builds of one tree
    fs.mkdirSync(cacheRoot, { recursive: true });
    fs.cpSync(out, cached + '.tmp', { recursive: true });
    fs.renameSync(cached + '.tmp', cached);
  }
}

const assets = files(out).filter((f) => /\.(js|css|html)$/.test(f));
const gz = (f) => zlib.gzipSync(fs.readFileSync(f), { level: 9 }).length;
const entryHtml = fs.readFileSync(path.join(out, 'index.html'), 'utf8');
const initial = assets.filter((f) => f.endsWith('.html') || entryHtml.includes(path.basename(f)));
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(
  `web: first load ${kb(initial.reduce((s, f) => s + gz(f), 0))} gzipped (${initial.length} files); ` +
    `all ${kb(assets.reduce((s, f) => s + gz(f), 0))} gzipped (${assets.length} files)`,
);
