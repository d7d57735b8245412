/**
 * V8 flags every launcher of hookflow's worker passes to `node` (`make start`, `make
 * start-cluster`, docker-compose, the test harness); measured under `make bench` (README "Memory"):
 * - semi-spaces of 4 MiB instead of Node's 16 keep the young generation of each of the worker's
 *   JavaScript heaps (the main thread, the workflow thread, the render thread) small: about 40 MiB
 *   less resident, for more frequent but shorter scavenges;
 * - `--heap-growing-percent=50` lets a heap grow to 1.5× what survived its last full collection
 *   before the next one, where V8 otherwise allows up to 4× on a machine with a few GiB of memory:
 *   about 20 MiB less at the worker's peak (over 90 MiB in the API), no throughput cost measured.
 * A flag given after these on the command line wins over them.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=50'];

/**
 * Environment every launcher gives the worker, under the operator's own (a variable already set
 * wins). glibc gives each thread that allocates its own malloc arena, up to 8 per core, and keeps
 * what they free: the worker's threads (the Temporal SDK's Rust core, the workflow and render
 * threads, libuv's) held about 55 MiB in 11 arenas at its peak; two arenas hold about 20 MiB less.
 */
export const WORKER_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };
