// The test harness starts real PostgreSQL servers with the same code `pgwarden demo` uses.
export { startCluster, freePort, ALL_FLAVORS, majorVersionOf, type Cluster, type Flavor, type StartOptions } from '../../src/demo/disposable-postgres.ts';
