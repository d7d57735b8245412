import type { Payload } from '@temporalio/common';
import { compileTemplate } from '../src/templates';
import type { EncryptionCodec } from '../src/temporal/payload-codec';
import { ENCRYPTED_ENCODING } from '../src/temporal/payload-codec';
import { generateSigningSecret, signingHeaders } from '../src/webhooks/signing';
import { ORDER_TEMPLATE, orderContext } from './templates';

/** What encryption and signing add to one delivery (issue 16), measured in this process. */
export interface CryptoOverhead {
  /** µs to encode and decode once every payload of a run (one run = one delivery in `make bench`). */
  codecMicrosPerDelivery: number;
  /** Payloads the codec handles per run, and their plain size in bytes. */
  payloadsPerDelivery: number;
  payloadBytesPerDelivery: number;
  /** µs to sign one attempt (one secret; two during a rotation's grace period). */
  signingMicrosPerDelivery: number;
  bodyBytes: number;
}

type History = { events?: unknown[] | null };

/** Every `payloads` list in a history. */
function payloads(node: unknown, found: Payload[] = []): Payload[] {
  if (Array.isArray(node)) for (const x of node) payloads(x, found);
  else if (node && typeof node === 'object' && !(node instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'payloads' && Array.isArray(v)) found.push(...(v as Payload[]));
      else payloads(v, found);
    }
  }
  return found;
}

const isEncrypted = (p: Payload) =>
  new TextDecoder().decode(p.metadata?.encoding ?? new Uint8Array()) === ENCRYPTED_ENCODING;

/**
 * The codec cost per delivery, from the payloads of real runs' histories: each payload is encoded
 * once by the process that writes it and decoded at least once by the one that reads it (again on
 * a worker cache miss, which this leaves out). Signing: the Standard Webhooks HMAC over the bench's
 * order body, rendered as a webhook step renders it.
 */
export async function measureCryptoOverhead(
  histories: readonly History[],
  codec: EncryptionCodec,
  rounds = 200,
): Promise<CryptoOverhead> {
  const runs = await Promise.all(histories.map((h) => codec.decode(payloads(h).filter(isEncrypted))));
  const perRun = runs.reduce((n, r) => n + r.length, 0) / runs.length;
  const bytes = runs.reduce((n, r) => n + r.reduce((m, p) => m + (p.data?.length ?? 0), 0), 0) / runs.length;
  const roundTrip = async () => {
    for (const run of runs) await codec.decode(await codec.encode(run));
  };
  await roundTrip(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await roundTrip();
  const codecMicros = ((performance.now() - t0) * 1000) / (rounds * runs.length);

  const tpl = compileTemplate(ORDER_TEMPLATE);
  const bodies = Array.from({ length: 100 }, (_, i) => tpl.render(orderContext(i)));
  const secret = generateSigningSecret();
  const signs = 20_000;
  for (let i = 0; i < 1000; i++) signingHeaders([secret], `dlv_${i}`, 1_796_000_000, bodies[i % 100]!);
  const t1 = performance.now();
  for (let i = 0; i < signs; i++) signingHeaders([secret], `dlv_${i}`, 1_796_000_000 + i, bodies[i % 100]!);
  const signingMicros = ((performance.now() - t1) * 1000) / signs;
  return {
    codecMicrosPerDelivery: codecMicros,
    payloadsPerDelivery: perRun,
    payloadBytesPerDelivery: bytes,
    signingMicrosPerDelivery: signingMicros,
    bodyBytes: bodies[0]!.length,
  };
}

export function printCryptoOverhead(o: CryptoOverhead, light: { p50Ms: number }): void {
  const share = (us: number) => `${((us / 1000 / light.p50Ms) * 100).toFixed(3)} % of the light-load p50`;
  console.log('encryption and signing per delivery (in process)');
  console.log(
    `  payload codec encode+decode     ${o.codecMicrosPerDelivery.toFixed(0)} µs  (${o.payloadsPerDelivery.toFixed(0)} payloads, ${(o.payloadBytesPerDelivery / 1024).toFixed(1)} KiB plain; ${share(o.codecMicrosPerDelivery)})`,
  );
  console.log(
    `  webhook signing (HMAC-SHA256)   ${o.signingMicrosPerDelivery.toFixed(1)} µs  (${o.bodyBytes}-byte body, one secret; ${share(o.signingMicrosPerDelivery)})`,
  );
}
