import { loadConfig } from '../../src/config';
import { ConfigError } from '../../src/errors';

test('the API hosts no worker and starts no run eagerly by default', () => {
  expect(loadConfig({}).api).toMatchObject({ hostsWorker: false, eagerStart: false });
});

test('eager start with the API worker: both on', () => {
  const c = loadConfig({ HOOKFLOW_API_WORKER: 'true', HOOKFLOW_EAGER_START: 'true' });
  expect(c.api).toMatchObject({ hostsWorker: true, eagerStart: true });
  expect(loadConfig({ HOOKFLOW_API_WORKER: 'true' }).api).toMatchObject({
    hostsWorker: true,
    eagerStart: false,
  });
});

test('eager start without the API worker is refused, naming both variables', () => {
  for (const env of [
    { HOOKFLOW_EAGER_START: 'true' },
    { HOOKFLOW_EAGER_START: 'true', HOOKFLOW_API_WORKER: 'false' },
  ]) {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.stringMatching(/^HOOKFLOW_EAGER_START: needs HOOKFLOW_API_WORKER=true/),
    ]);
  }
});

test('anything but true or false names the variable', () => {
  expect(() => loadConfig({ HOOKFLOW_API_WORKER: 'yes' })).toThrow(/HOOKFLOW_API_WORKER/);
  expect(() => loadConfig({ HOOKFLOW_API_WORKER: 'true', HOOKFLOW_EAGER_START: '1' })).toThrow(
    /HOOKFLOW_EAGER_START/,
  );
});
