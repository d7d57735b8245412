import fs from 'node:fs';
import path from 'node:path';
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, lowest first. A file may import from its own layer and the layers below it,
 * never from a layer above, nor from test/ or bench/; the folders of an `apart` layer do not import
 * each other either. A new folder goes in the layer it belongs to (lint fails on one in no layer).
 */
const LAYERS = [
  {
    name: 'base',
    paths: ['src/shared', 'src/errors.ts', 'src/permissions.ts', 'src/lru.ts', 'src/version.ts'],
  },
  { name: 'storage', paths: ['src/db', 'src/secrets', 'src/templates'], apart: true },
  { name: 'sending', paths: ['src/webhooks'] },
  { name: 'settings', paths: ['src/config.ts', 'src/logger.ts'] },
  { name: 'model', paths: ['src/flows'] },
  { name: 'temporal code', paths: ['src/workflows', 'src/activities'] },
  // The dev server launcher and the one run starter, typed against the workflow functions.
  { name: 'temporal client', paths: ['src/temporal'] },
  // Profiles, lists, segments, audience conditions and flow entries: what events, lists and
  // segments share (so the services above can use it without importing each other).
  { name: 'audience', paths: ['src/audience'] },
  { name: 'services', paths: ['src/events', 'src/runs', 'src/analytics', 'src/auth'], apart: true },
  { name: 'edge', paths: ['src/api', 'src/worker'], apart: true },
  // Processes we run beside hookflow: a PostgreSQL cluster, the Temporal server (issue 14).
  { name: 'entry points', paths: ['src/start.ts', 'src/scripts', 'src/cluster', 'src/host'] },
];
const DEV_ONLY = ['test', 'bench'];

const layered = new Set(LAYERS.flatMap((l) => l.paths));
const unplaced = fs
  .readdirSync(path.join(import.meta.dirname, 'src'))
  .filter((entry) => !layered.has(`src/${entry}`));
if (unplaced.length > 0) {
  throw new Error(
    `eslint.config.mjs: put ${unplaced.map((e) => `src/${e}`).join(', ')} in a layer of LAYERS`,
  );
}

const layerZones = LAYERS.flatMap((layer, i) => {
  const above = LAYERS.slice(i + 1).flatMap((l) => l.paths);
  const zones = layer.paths.map((target) => ({
    target,
    from: [...above, ...DEV_ONLY],
    message: `layers point one way: ${target} (${layer.name}) imports only from its layer and those below it (README "Architecture").`,
  }));
  if (!layer.apart) return zones;
  return zones.concat(
    layer.paths.map((target) => ({
      target,
      from: layer.paths.filter((p) => p !== target),
      message: `${target} does not import its neighbours in the ${layer.name} layer: move the shared piece down.`,
    })),
  );
});

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-bench/**',
      'node_modules/**',
      '.tools/**',
      '.data/**',
      'coverage/**',
      'test-artifacts/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // The layer rule: see LAYERS above.
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })] },
    rules: { 'import-x/no-restricted-paths': ['error', { zones: layerZones }] },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox and is replayed from history: an
    // allow-list, not a deny-list. Anything else (Node built-ins, undici, the database, config, an
    // activity's code) is refused, so a new dependency of workflow code is a visible decision.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^(?!@temporalio/workflow$|@temporalio/common$|\\./(?!.*\\.\\.)|\\.\\./shared/(?!.*\\.\\.)|\\.\\./activities(/|$)).*',
              message:
                'Workflow code may import only @temporalio/workflow, @temporalio/common, src/workflows, src/shared and (as types) activities.',
            },
            {
              regex: '^\\.\\./activities(/|$)',
              allowTypeImports: true,
              message:
                'Workflows import activities as types only (`import type`): their code runs in the worker.',
            },
          ],
        },
      ],
    },
  },
  {
    // Shared by workflows and the rest: pure code, replayed inside the sandbox too. jsep parses
    // split conditions and is itself pure.
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!jsep$|\\./(?!.*\\.\\.)).*',
              message: 'src/shared is imported by workflow code: only its own files and jsep.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['*.mjs', '*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { module: 'writable', require: 'readonly', process: 'readonly' },
    },
  },
  {
    // CLI entry points print their URLs and progress for a human on the console.
    files: ['src/start.ts', 'bench/**/*.ts', 'src/scripts/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
