import type dns from 'node:dns';
import { createTestPki } from '../harness/certs';
import { Receiver } from '../harness/receiver';
import { checkAddress, checkDestination, checkPort, parsePolicy } from '../../src/webhooks/outbound';
import type { Resolver } from '../../src/webhooks/outbound';
import { createDispatcher, sendWebhook } from '../../src/webhooks/send';

const none = parsePolicy(undefined, undefined);

describe('blocked address ranges', () => {
  test.each([
    ['127.0.0.1', /loopback/],
    ['127.255.0.9', /loopback/],
    ['10.1.2.3', /private network \(RFC 1918\)/],
    ['172.16.0.1', /RFC 1918/],
    ['192.168.1.1', /RFC 1918/],
    ['169.254.169.254', /link-local .*169\.254\.169\.254/],
    ['100.64.0.1', /carrier-grade NAT/],
    ['224.0.0.1', /multicast/],
    ['0.0.0.0', /unspecified/],
    ['240.0.0.1', /reserved/],
    ['255.255.255.255', /broadcast/],
    ['::1', /loopback/],
    ['::', /unspecified/],
    ['fc00::1', /unique-local/],
    ['fd12:3456::1', /unique-local/],
    ['fe80::1', /link-local/],
    ['ff02::1', /multicast/],
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:169.254.169.254', /link-local/],
    ['::ffff:10.0.0.1', /RFC 1918/],
    ['64:ff9b::a00:1', /translation/],
    ['2002:a00:1::', /6to4/],
  ])('%s is refused, saying why and how to allow it', (ip, why) => {
    const msg = checkAddress(ip, none);
    expect(msg).toMatch(why);
    expect(msg).toMatch(/HOOKFLOW_OUTBOUND_ALLOW/);
  });
  test.each(['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111'])('%s (public) is allowed', (ip) => {
    expect(checkAddress(ip, none)).toBeUndefined();
  });
  test('the operator allowlist opens networks, addresses and names; ports are 443 unless allowed', () => {
    const p = parsePolicy('127.0.0.1, 10.1.0.0/16, fd00::/8, crm.internal', '8443');
    expect(checkAddress('127.0.0.1', p)).toBeUndefined();
    expect(checkAddress('::ffff:127.0.0.1', p)).toBeUndefined();
    expect(checkAddress('10.1.9.9', p)).toBeUndefined();
    expect(checkAddress('10.2.0.1', p)).toMatch(/RFC 1918/);
    expect(checkAddress('fd00::5', p)).toBeUndefined();
    expect(checkPort(443, none)).toBeUndefined();
    expect(checkPort(8443, none)).toMatch(/HOOKFLOW_OUTBOUND_PORTS/);
    expect(checkPort(8443, p)).toBeUndefined();
    expect(checkPort(22, parsePolicy(undefined, '*'))).toBeUndefined();
    expect(() => parsePolicy('10.0.0.0/99', undefined)).toThrow(/HOOKFLOW_OUTBOUND_ALLOW/);
    expect(() => parsePolicy(undefined, '70000')).toThrow(/HOOKFLOW_OUTBOUND_PORTS/);
  });
});

/** A test resolver: names resolve to what the test says, never through real DNS. */
function resolver(table: Record<string, string[]>): Resolver {
  return (host: string, _opts: dns.LookupAllOptions, cb) => {
    const list = table[host];
    if (!list) {
      cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
      return;
    }
    cb(
      null,
      list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };
}

describe('destinations at save', () => {
  const r = resolver({
    'rebind.test': ['127.0.0.1'],
    'mixed.test': ['93.184.216.34', '10.0.0.7'],
    'public.test': ['93.184.216.34'],
  });
  test('names are resolved and every address checked; literals and ports too', async () => {
    expect(await checkDestination('https://rebind.test/hook', none, r)).toMatch(
      /rebind\.test resolves to a blocked address: .*loopback/,
    );
    expect(await checkDestination('https://mixed.test/hook', none, r)).toMatch(/RFC 1918/);
    expect(await checkDestination('https://public.test/hook', none, r)).toBeUndefined();
    expect(await checkDestination('https://[::ffff:169.254.169.254]/latest', none, r)).toMatch(/link-local/);
    expect(await checkDestination('https://public.test:8443/hook', none, r)).toMatch(/port 8443/);
    expect(await checkDestination('https://unknown.test/hook', none, r)).toBeUndefined(); // DNS failure: not a block
  });
});

describe('destinations at send: checked on the address actually connected to', () => {
  let receiver: Receiver;
  const pki = createTestPki();
  const caSafeSend = (url: string, policySpec: string | undefined, table: Record<string, string[]>) => {
    const dispatcher = createDispatcher({
      connectTimeoutMs: 2000,
      policy: parsePolicy(policySpec, '*'),
      resolver: resolver(table),
    });
    return sendWebhook(
      { url, headers: {}, body: '{}', idempotencyKey: 'k' },
      { dispatcher, timeoutMs: 2000, maxResponseBytes: 1024, retryAfterMaxMs: 1000 },
    ).finally(() => dispatcher.close());
  };

  beforeAll(async () => {
    receiver = await Receiver.start(pki.good);
  });
  afterAll(() => receiver.close());

  test('a name resolving to 127.0.0.1 is refused, non-retryable, and nothing is sent', async () => {
    const r = await caSafeSend(`https://rebind.test:${receiver.port}/hook`, undefined, {
      'rebind.test': ['127.0.0.1'],
    });
    expect(r).toMatchObject({ class: 'non_retryable', errorClass: 'blocked_destination' });
    expect(r.reason).toMatch(/loopback/);
    const literal = await caSafeSend(receiver.url('/hook'), undefined, {});
    expect(literal).toMatchObject({ class: 'non_retryable', errorClass: 'blocked_destination' });
    expect(receiver.received('/hook')).toHaveLength(0);
  });

  test('DNS rebinding: a name public at save and private at send is refused at send', async () => {
    // The resolver answers a public address first (the save-time check), then loopback (the send).
    const answers = [['93.184.216.34'], ['127.0.0.1']];
    const asked: string[] = [];
    const rebinding: Resolver = (host, _opts, cb) => {
      asked.push(host);
      const list = answers.length > 1 ? answers.shift()! : answers[0]!;
      cb(
        null,
        list.map((address) => ({ address, family: 4 })),
      );
    };
    const url = `https://rebind.test:${receiver.port}/rebind`;
    const policy = parsePolicy(undefined, '*');
    expect(await checkDestination(url, policy, rebinding)).toBeUndefined();
    const dispatcher = createDispatcher({ connectTimeoutMs: 2000, policy, resolver: rebinding });
    const r = await sendWebhook(
      { url, headers: {}, body: '{}', idempotencyKey: 'k' },
      { dispatcher, timeoutMs: 2000, maxResponseBytes: 1024, retryAfterMaxMs: 1000 },
    ).finally(() => dispatcher.close());
    expect(asked).toEqual(['rebind.test', 'rebind.test']);
    expect(r).toMatchObject({ class: 'non_retryable', errorClass: 'blocked_destination' });
    expect(r.reason).toMatch(/rebind\.test resolves to a blocked address: .*127\.0\.0\.1 is loopback/);
    expect(receiver.received('/rebind')).toHaveLength(0);
  });

  test('with the operator allowlist the same destination is reached (TLS then fails on the test CA, past the policy)', async () => {
    const r = await caSafeSend(receiver.url('/hook'), '127.0.0.1', {});
    expect(r.errorClass).not.toBe('blocked_destination');
  });
});
