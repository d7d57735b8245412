/**
 * V8 flags every launcher of hookflow's API passes to `node` (`make start`, `make start-cluster`,
 * docker-compose, the image, the test harness); measured under `make bench` (README "Memory"):
 * - semi-spaces of 8 MiB instead of Node's 16: a young generation of 16 MiB instead of 32, about
 *   25–35 MiB less resident under load for about 3 % more CPU per event (4 MiB saved little more
 *   and cost about 15 %: short-lived request objects were promoted before they died);
 * - `--heap-growing-percent=50`: the heap grows to 1.5× what survived its last full collection
 *   before the next one, not up to 4×: the API's old space peaked at 63 MiB instead of 142.
 * A flag given after these on the command line wins over them.
 */
export const API_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=50'];
