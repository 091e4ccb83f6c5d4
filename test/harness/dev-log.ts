// PostgreSQL's log_destination = syslog writes to the fixed /dev/log. For a test's own syslog
// daemon to receive it, the cluster is restarted in a mount namespace of its own (unshare
// --mount) where /dev is a copy of the real one and /dev/log is the daemon's socket. Root only.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Cluster } from './postgres.ts';

/** Stops the cluster and starts it again where /dev/log is `socket` (its log/ directory emptied first). `dir`: a scratch directory. */
export function restartWithDevLog(cluster: Cluster, socket: string, dir: string): void {
  const owner = statSync(cluster.socketDir);
  const asOwner = `setpriv --reuid=${owner.uid} --regid=${owner.gid} --clear-groups`;
  const stop = spawnSync('sh', ['-c', `${asOwner} ${cluster.binDir}/pg_ctl -D ${cluster.dataDir} -m fast -w stop`], { encoding: 'utf8' });
  assert.equal(stop.status, 0, stop.stderr);
  rmSync(path.join(cluster.dataDir, 'log'), { recursive: true, force: true });
  const real = path.join(dir, 'realdev');
  const script = [
    'set -e', `mkdir -p ${real}`, `mount --rbind /dev ${real}`, 'mount -t tmpfs -o mode=755 tmpfs /dev',
    `for f in ${real}/* ${real}/.[!.]*; do [ -e "$f" ] || [ -L "$f" ] || continue; n=$(basename "$f");`
      + ' if [ -L "$f" ]; then cp -P "$f" /dev/$n; elif [ -d "$f" ]; then mkdir /dev/$n; mount --rbind "$f" /dev/$n;'
      + ' else touch /dev/$n; mount --bind "$f" /dev/$n; fi; done',
    'touch /dev/log', `mount --bind ${socket} /dev/log`,
    `exec ${asOwner} ${cluster.binDir}/pg_ctl -D ${cluster.dataDir} -l ${cluster.logFile} -w start`,
  ].join('\n');
  const start = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8' });
  assert.equal(start.status, 0, start.stderr + start.stdout);
}
