import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.data/**', 'coverage/**', 'test-artifacts/**'] },
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
    files: ['src/start.ts', 'src/bench/**/*.ts', 'src/scripts/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
