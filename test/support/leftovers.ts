/**
 * Safety nets that make a test leave nothing behind: an embedded PostgreSQL that outlived its DLS (a killed process
 * cannot stop its own), and the fallback directory its cluster may live in (see EmbeddedPostgres).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_POINTER } from '../../src/database/embedded-postgres';
import { waitFor } from './zfs-fuse';

/** The pid in `<clusterDir>/data/postmaster.pid` when that process is a live postgres, else undefined. */
export function postmasterPid(clusterDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(clusterDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    return pid > 1 && readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Where the cluster of `<dataDir>/postgres` lives: the fallback directory its pointer names, or itself. */
export function clusterDirOf(dataDir: string): string {
  const baseDir = join(dataDir, 'postgres');
  try {
    return readFileSync(join(baseDir, CLUSTER_POINTER), 'utf8').trim() || baseDir;
  } catch {
    return baseDir;
  }
}

/**
 * Stops (SIGINT: fast shutdown, then SIGKILL) the embedded PostgreSQL of `dataDir`, if one still runs, and removes
 * its fallback directory when it had one. Call before removing the data dir itself.
 */
export async function removeEmbeddedPostgres(dataDir: string): Promise<void> {
  removeOverlayDaemonSync(dataDir);
  const clusterDir = clusterDirOf(dataDir);
  const pid = postmasterPid(clusterDir);
  if (pid) {
    process.kill(pid, 'SIGINT');
    try {
      await waitFor(() => postmasterPid(clusterDir) === undefined, 30_000, `postgres ${pid} to stop`);
    } catch {
      process.kill(pid, 'SIGKILL');
    }
  }
  if (clusterDir !== join(dataDir, 'postgres') && existsSync(join(clusterDir, 'data-dir'))) rmSync(clusterDir, { recursive: true, force: true });
}

/**
 * For synchronous cleanups (a lab's `onDestroy`, run after its processes are killed): kills a postgres of `dataDir`
 * still alive and removes its fallback directory when it had one.
 */
export function removeFallbackClusterSync(dataDir: string): void {
  removeOverlayDaemonSync(dataDir);
  const clusterDir = clusterDirOf(dataDir);
  const pid = postmasterPid(clusterDir);
  if (pid) process.kill(pid, 'SIGKILL');
  if (clusterDir !== join(dataDir, 'postgres') && existsSync(join(clusterDir, 'data-dir'))) rmSync(clusterDir, { recursive: true, force: true });
}

/**
 * The dir driver's qemu-storage-daemon of `dataDir` outlives a killed DLS (by design: it keeps serving tgtd): kill it
 * by the pid its pid file names when /proc shows it is that daemon, and lazily unmount FUSE mounts it left under
 * `dataDir` in this mount namespace (a DLS run through `ip netns exec` mounts in its own, gone with its processes).
 */
export function removeOverlayDaemonSync(dataDir: string): void {
  const runDir = join(dataDir, 'storage', 'run');
  try {
    const pid = Number(readFileSync(join(runDir, 'qsd.pid'), 'utf8').trim());
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (pid > 1 && argv.startsWith('qemu-storage-daemon') && argv.includes(`path=${join(runDir, 'qsd.sock')},`)) process.kill(pid, 'SIGKILL');
  } catch {
    // no pid file, or not running
  }
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const [source, mountpoint, fstype] = line.split(' ');
    if (source === '/dev/fuse' && fstype === 'fuse' && mountpoint?.startsWith(`${dataDir}/`)) {
      try {
        execFileSync('umount', ['-l', mountpoint], { timeout: 10_000 });
      } catch {
        // gone meanwhile
      }
    }
  }
}
