import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { Supervisor } from '../../src/cluster/supervisor';

/** The supervisor of `make start-cluster` with real child processes. */

const node = (script: string) => () =>
  spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString('utf8')));
  return { out, text: () => text };
}

const until = async (cond: () => boolean, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('a crashed process is restarted with a growing delay, its lines prefixed with its name', async () => {
  const { out, text } = capture();
  const sup = new Supervisor({ out, initialBackoffMs: 100, maxBackoffMs: 1000, stopGraceMs: 2000 });
  const crasher = sup.add({
    name: 'crasher',
    start: node(
      "console.log('hello from ' + process.pid); console.error('oops'); setTimeout(() => process.exit(3), 30)",
    ),
  });
  const firstPid = crasher.pid;
  const steady = sup.add({ name: 'steady', start: node('setInterval(() => {}, 1000)') });
  const t0 = Date.now();
  await until(() => crasher.restarts >= 2);
  await crasher.nextStart();
  const elapsed = Date.now() - t0;
  await sup.stop();

  const lines = text().split('\n');
  expect(lines).toContain(`[crasher] hello from ${firstPid}`);
  expect(text()).toContain(`[supervisor] crasher (pid ${firstPid}) exited with code 3`);
  expect(lines.filter((l) => l === '[crasher] oops').length).toBeGreaterThanOrEqual(3);
  expect(text()).toMatch(/\[supervisor\] crasher \(pid \d+\) exited with code 3/);
  // 100 ms, then 200 ms, then 400 ms: the delay doubles for each crash in a row.
  expect(text()).toContain('[supervisor] restarting crasher in 100 ms');
  expect(text()).toContain('[supervisor] restarting crasher in 200 ms');
  expect(text()).toContain('[supervisor] restarting crasher in 400 ms');
  expect(elapsed).toBeGreaterThanOrEqual(100 + 200 + 400);
  // The steady one was never restarted, and stop ended it.
  expect(steady.restarts).toBe(0);
  expect(steady.child!.signalCode).toBe('SIGTERM');
});

test('stop ends every process, kills one that ignores SIGTERM after the grace period, restarts none', async () => {
  const { out, text } = capture();
  const sup = new Supervisor({ out, initialBackoffMs: 50, stopGraceMs: 500 });
  const polite = sup.add({ name: 'polite', start: node('setInterval(() => {}, 1000)') });
  const stubborn = sup.add({
    name: 'stubborn',
    start: node(
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('up'); setInterval(() => {}, 1000)",
    ),
  });
  await until(() => text().includes('[stubborn] up'));
  const started = Date.now();
  await sup.stop();
  expect(Date.now() - started).toBeGreaterThanOrEqual(450);
  expect(polite.child!.signalCode).toBe('SIGTERM');
  expect(stubborn.child!.signalCode).toBe('SIGKILL');
  expect(text()).toContain('[stubborn] ignoring SIGTERM');
  expect(text()).toContain('[supervisor] stubborn did not stop within 500 ms: killing it');
  await new Promise((r) => setTimeout(r, 200));
  expect([polite.restarts, stubborn.restarts]).toEqual([0, 0]);
  expect(() => sup.add({ name: 'late', start: node('') })).toThrow(/stopping/);
});
