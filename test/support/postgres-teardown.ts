// jest globalTeardown: stops the cluster ./postgres-setup.ts started (and removes its folder).
import './postgres-setup';

export default async function teardown(): Promise<void> {
  await globalThis.hookflowTestPostgres?.stop();
  globalThis.hookflowTestPostgres = undefined;
}
