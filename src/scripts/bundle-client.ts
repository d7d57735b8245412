import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

/**
 * Bundles the pages' scripts at build time: every `client/pages/<name>.ts` becomes
 * `dist/public/<name>.js` (with its source map), served by the API under `/assets/`. Everything a
 * page runs comes from this repository and its npm packages: no CDN.
 */
const ROOT = path.join(__dirname, '..', '..');
const PAGES = path.join(ROOT, 'client', 'pages');
const PUBLIC_DIR = path.join(ROOT, 'dist', 'public');

async function main(): Promise<void> {
  const entryPoints = fs
    .readdirSync(PAGES)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(PAGES, f));
  if (entryPoints.length === 0) return;
  const result = await build({
    entryPoints,
    outdir: PUBLIC_DIR,
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'iife',
    target: ['chrome110', 'firefox110', 'safari16'],
    metafile: true,
    logLevel: 'warning',
  });
  for (const [file, out] of Object.entries(result.metafile.outputs)) {
    if (file.endsWith('.js')) console.log(`client bundle ${file} (${Math.round(out.bytes / 1024)} KiB)`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
