import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config';
import { SEARCH_ATTRIBUTE_FLAGS } from '../../src/temporal/search-attributes';

/** No Docker engine runs in CI: the compose file is checked statically against the code. */

interface Service {
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, unknown>;
}
const ROOT = path.resolve(__dirname, '..', '..');
const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
};

test('compose runs temporal, worker and api from the image', () => {
  expect(Object.keys(compose.services).sort()).toEqual(['api', 'temporal', 'worker']);
  expect(compose.services.worker!.command).toEqual(['node', 'dist/worker/main.js']);
  expect(compose.services.api!.command).toEqual(['node', 'dist/api/main.js']);
  for (const f of ['dist/worker/main.js', 'dist/api/main.js']) {
    expect(fs.existsSync(path.join(ROOT, 'src', f.replace('dist/', '').replace('.js', '.ts')))).toBe(true);
  }
});

test('the dev server registers every search attribute the engine sets', () => {
  const cmd = compose.services.temporal!.command!;
  const registered = cmd.filter((_, i) => cmd[i - 1] === '--search-attribute');
  expect(registered.sort()).toEqual([...SEARCH_ATTRIBUTE_FLAGS].sort());
});

test('worker and api share one data volume and valid configuration', () => {
  const { worker, api } = compose.services;
  expect(worker!.volumes).toEqual(api!.volumes);
  for (const svc of [worker!, api!]) {
    // Interpolate as compose does with nothing set: `${X:-}` is empty; `${X:?…}` would stop compose.
    const env = Object.fromEntries(
      Object.entries(svc.environment ?? {})
        .filter(([, v]) => !/^\$\{\w+:\?/.test(v))
        .map(([k, v]) => [k, v.replace(/^\$\{\w+:-\}$/, '')]),
    );
    expect(() => loadConfig(env)).not.toThrow();
    expect(svc.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
  }
});

test('the image carries what the API reads at run time: the compiled code and the page templates', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  expect(finalStage).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
  expect(finalStage).toMatch(/^COPY views \.\/views$/m);
  expect(fs.readdirSync(path.join(ROOT, 'views')).length).toBeGreaterThan(0);
});
