// @temporalio/common and @temporalio/proto each install their own copy of protobufjs 8 (the root
// copy is 7, for gRPC): common's JSON history reader (historyFromJSON, which replay uses) then
// checks proto's types against its own copy and fails with "type must be a Type". Tests load the
// reader from proto's copy (resolved from proto's folder); once npm shares one copy this finds it.
const protojson = require.resolve('protobufjs/ext/protojson', {
  paths: [require.resolve('@temporalio/proto/package.json')],
});

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  // Integration suites start a Temporal dev server, a worker and the API: give them room on 2 cores.
  testTimeout: 120000,
  watchman: false,
  // One throwaway PostgreSQL cluster per run: suites run on both databases (test/support/databases.ts).
  globalSetup: '<rootDir>/test/support/postgres-setup.ts',
  globalTeardown: '<rootDir>/test/support/postgres-teardown.ts',
  moduleNameMapper: { '^protobufjs/ext/protojson$': protojson },
};
