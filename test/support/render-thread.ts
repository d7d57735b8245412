import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.join(__dirname, '..', '..');
const OUT = path.join(ROOT, 'test-artifacts', 'render-thread');

/**
 * Transpiles `src/templates/render-thread.ts` and the modules it imports, fresh from source, for a
 * renderer under test: a worker thread cannot load TypeScript, and a build in dist/ may be stale.
 * Returns the thread file to pass as `threadFile`.
 */
export function renderThreadFromSource(): string {
  fs.rmSync(OUT, { recursive: true, force: true });
  const pending = [path.join(ROOT, 'src', 'templates', 'render-thread.ts')];
  const done = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (done.has(file)) continue;
    done.add(file);
    const source = fs.readFileSync(file, 'utf8');
    for (const { fileName } of ts.preProcessFile(source).importedFiles) {
      if (fileName.startsWith('.')) pending.push(`${path.resolve(path.dirname(file), fileName)}.ts`);
    }
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    const out = path.join(OUT, path.relative(path.join(ROOT, 'src'), file)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, outputText);
  }
  return path.join(OUT, 'templates', 'render-thread.js');
}
