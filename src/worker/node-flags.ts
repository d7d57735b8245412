/**
 * V8 flags every launcher of hookflow's worker passes to `node` (`make start`, `make
 * start-cluster`, docker-compose, the test harness). Semi-spaces of 4 MiB instead of Node's 16
 * keep the young generation of each of the worker's JavaScript heaps (the main thread, the
 * workflow thread, the render thread) small: about 40 MiB less resident in a worker, idle or
 * under load, for more frequent but shorter scavenges (README "Worker memory"). A flag given
 * after these on the command line wins over them.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
