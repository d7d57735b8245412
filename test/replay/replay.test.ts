/**
 * Replays recorded histories (test/replay/histories/*.json, captured from real runs by
 * capture.test.ts) against the workflow code as it is in src/workflows, bundled here from source so
 * a stale dist/ cannot hide a change. A change that would break runs in flight fails here: see
 * README, "Changing workflow code safely".
 */
import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowBundle } from '@temporalio/worker';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { Payload } from '@temporalio/common';
import { createPayloadCodec, dataConverterOf, ENCRYPTED_ENCODING } from '../../src/temporal/payload-codec';
import { REPLAY_SECRET_KEYS } from '../support/replay-key';

const HISTORIES = path.join(__dirname, 'histories');
const FIXTURES = fs
  .readdirSync(HISTORIES)
  .filter((f) => f.endsWith('.json'))
  .sort();

/**
 * The cases issues 10 and 11 ask to keep replayable; a missing fixture fails the suite.
 * `delivered-encrypted` was recorded with the payload codec (issue 16), the others before it. The
 * `eligibility-activity-*` runs were recorded before patch 'eligibility-local-activity' (the check
 * as an activity), `eligibility-*` after it (a local activity). `fast-*` are runs of `flowRunV2`
 * (issue 18: each webhook's first attempt as a local activity), the others of `flowRun`.
 */
const EXPECTED = [
  'fast-delay',
  'fast-delivered',
  'fast-eligibility-delivered',
  'fast-eligibility-skipped',
  'fast-failed',
  'fast-retried-delivered',
  'fast-skipped',
  'fast-split-no',
  'fast-split-yes',
  'fast-taken-over',
  'delay',
  'delivered',
  'delivered-encrypted',
  'eligibility-activity-delivered',
  'eligibility-activity-skipped',
  'eligibility-delivered',
  'eligibility-skipped',
  'failed',
  'resend',
  'retried-delivered',
  'skipped',
  'split-no',
  'split-yes',
];

const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };

function load(name: string) {
  return historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES, name), 'utf8')));
}

function bundle(workflowsPath: string): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, logger: quiet });
}

let current: WorkflowBundle;
/** Replay as a production worker runs: with the payload codec (of the key the fixtures are captured under). */
const codec = createPayloadCodec({ secretKeys: REPLAY_SECRET_KEYS, dataDir: '/nonexistent' });
const dataConverter = dataConverterOf(codec);

type History = ReturnType<typeof load>;

/** Every `payloads` list in a history (inputs, results, activity arguments, markers...). */
function payloadLists(node: unknown, found: Payload[][] = []): Payload[][] {
  if (Array.isArray(node)) for (const x of node) payloadLists(x, found);
  else if (node && typeof node === 'object' && !(node instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'payloads' && Array.isArray(v)) found.push(v as Payload[]);
      else payloadLists(v, found);
    }
  }
  return found;
}

/**
 * The payloads the data converter writes, so the codec encrypts: all but the SDK core's own
 * bookkeeping in markers (patch ids, a local activity's attempt and times; a marker's `result` is ours).
 */
function dataPayloadLists(history: History): Payload[][] {
  return (history.events ?? []).flatMap((e) =>
    payloadLists(e.markerRecordedEventAttributes ? e.markerRecordedEventAttributes.details?.result : e),
  );
}

const encodingOf = (p: Payload) => new TextDecoder().decode(p.metadata?.encoding ?? new Uint8Array());

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  current = await bundle(require.resolve('../../src/workflows'));
});

test('every case has a recorded history', () => {
  expect(FIXTURES.map((f) => f.replace(/\.json$/, ''))).toEqual(expect.arrayContaining(EXPECTED));
});

test.each(FIXTURES)('%s replays against the current workflow code', async (name) => {
  await expect(
    Worker.runReplayHistory({ workflowBundle: current, dataConverter }, load(name), `replay-${name}`),
  ).resolves.toBeUndefined();
});

describe('the suite catches an incompatible change', () => {
  test('a timer added without patched() is a determinism violation', async () => {
    const unpatched = await bundle(require.resolve('./variants/unpatched'));
    await expect(
      Worker.runReplayHistory({ workflowBundle: unpatched }, load('delivered.json'), 'replay-unpatched'),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: unpatched, dataConverter },
        load('fast-delivered.json'),
        'replay-unpatched-fast',
      ),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });

  test('the same timer behind patched() replays every history', async () => {
    const safe = await bundle(require.resolve('./variants/patched'));
    for (const name of FIXTURES) {
      await expect(
        Worker.runReplayHistory(
          { workflowBundle: safe, dataConverter },
          load(name),
          `replay-patched-${name}`,
        ),
      ).resolves.toBeUndefined();
    }
  });
});

describe('the payload codec (issue 16)', () => {
  test('histories recorded before the codec hold plain payloads, and replay through a worker with the codec', async () => {
    // Not rewritten by capture.test.ts (recorded before patch 'eligibility-local-activity'), so it stays from before the codec.
    const before = load('eligibility-activity-delivered.json');
    const encodings = payloadLists(before).flat().map(encodingOf);
    expect(encodings.length).toBeGreaterThan(3);
    expect(encodings).not.toContain(ENCRYPTED_ENCODING);
    await expect(
      Worker.runReplayHistory({ workflowBundle: current, dataConverter }, before, 'replay-plain'),
    ).resolves.toBeUndefined();
  });

  test('a history recorded with the codec holds its data encrypted and replays through it', async () => {
    const recorded = load('delivered-encrypted.json');
    const data = dataPayloadLists(recorded).flat();
    expect(data.length).toBeGreaterThan(3);
    expect(new Set(data.map(encodingOf))).toEqual(new Set([ENCRYPTED_ENCODING]));
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: current, dataConverter },
        recorded,
        'replay-recorded-encrypted',
      ),
    ).resolves.toBeUndefined();
  });

  test('an older history with its data encrypted as the codec would replays with the codec, and not without it', async () => {
    const encrypted: History = load('eligibility-activity-delivered.json');
    for (const list of dataPayloadLists(encrypted))
      list.splice(0, list.length, ...(await codec.encode(list)));
    expect(new Set(dataPayloadLists(encrypted).flat().map(encodingOf))).toEqual(
      new Set([ENCRYPTED_ENCODING]),
    );
    await expect(
      Worker.runReplayHistory({ workflowBundle: current, dataConverter }, encrypted, 'replay-encrypted'),
    ).resolves.toBeUndefined();
    await expect(
      Worker.runReplayHistory({ workflowBundle: current }, encrypted, 'replay-encrypted-no-codec'),
    ).rejects.toThrow();
  });
});
