/**
 * A standalone PostgreSQL on a lab's boot LAN, for several DLS nodes to share (issue 14): the server of DLS's embedded
 * package, run as its own OS user inside the lab's namespace and listening only on the lab bridge's address, with
 * password logins from the lab subnet. Nothing listens outside the namespace.
 */
import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedPostgres } from '../../src/database/embedded-postgres';
import { Lab, LabProcess } from './netns';

export interface LabPostgres {
  /** `postgres://…@<lab address>:5432/<db>` for the nodes. */
  url: string;
  proc: LabProcess;
}

/** Creates the cluster (initdb on the host, nothing started there) and runs it in `lab`'s namespace. */
export async function startLabPostgres(lab: Lab, opts: { dir: string; logFile: string; db?: string }): Promise<LabPostgres> {
  const pg = new EmbeddedPostgres({ baseDir: opts.dir, log: () => undefined });
  // start() makes the cluster, its credentials and the database on 127.0.0.1 of this (the host's) namespace; stop it
  // at once and run the same data directory inside the lab.
  const local = new URL(await pg.start(opts.db ?? 'dls'));
  await pg.stop();
  lab.onDestroy(() => rmSync(pg.clusterLocation, { recursive: true, force: true }));
  const { postgres, dataDir, user } = pg.serverFiles;
  appendFileSync(join(dataDir, 'pg_hba.conf'), `\nhost all all ${lab.cidr} scram-sha-256\n`);
  const argv = [
    ...(user ? ['runuser', '-u', user, '--'] : []),
    postgres,
    '-D',
    dataDir,
    '-p',
    '5432',
    '-c',
    `listen_addresses=${lab.serverIp}`,
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=200',
  ];
  const proc = lab.spawn(argv, { logFile: opts.logFile });
  const url = new URL(local.toString());
  url.hostname = lab.serverIp;
  url.port = '5432';
  const deadline = Date.now() + 60_000;
  while (!(existsSync(opts.logFile) && readFileSync(opts.logFile, 'utf8').includes('database system is ready to accept connections'))) {
    if (Date.now() > deadline) throw new Error(`PostgreSQL in ${lab.ns} did not come up within 60 s (log: ${opts.logFile})`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { url: url.toString(), proc };
}
