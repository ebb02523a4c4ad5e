/**
 * Migration CLI over the one DataSource definition in ormconfig.ts. Works with DATABASE_URL or the embedded server.
 *   ts-node scripts/db.ts run | revert | check | generate <PascalVerbNoun>
 * `check` exits 1 when entities and migrations drift (CI runs it).
 */
import 'reflect-metadata';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../ormconfig';
import { loadConfig } from '../src/config/config.loader';
import { resolveDatabase } from '../src/database/database-url';
import { runMigrationsLocked, schemaDrift } from '../src/database/migrator';

async function main(): Promise<number> {
  const [cmd, name] = process.argv.slice(2);
  const config = loadConfig();
  const { url, embedded } = await resolveDatabase(config, (m) => console.error(m));
  const ds = new DataSource(dataSourceOptions(url));
  await ds.initialize();
  try {
    switch (cmd) {
      case 'run': {
        const ran = await runMigrationsLocked(ds);
        console.log(ran.length ? `ran: ${ran.join(', ')}` : 'no pending migrations');
        return 0;
      }
      case 'revert':
        await ds.undoLastMigration({ transaction: 'each' });
        console.log('reverted the last migration');
        return 0;
      case 'check':
      case 'generate': {
        await runMigrationsLocked(ds);
        const drift = await schemaDrift(ds);
        if (cmd === 'check') {
          if (drift.up.length === 0) {
            console.log('no drift: entities and migrations agree');
            return 0;
          }
          console.error(`schema drift — entities need:\n${drift.up.join(';\n')};`);
          return 1;
        }
        if (!name || !/^[A-Z][A-Za-z0-9]+$/.test(name)) {
          console.error('usage: npm run migration:generate -- <PascalVerbNoun>');
          return 2;
        }
        if (drift.up.length === 0) {
          console.log('nothing to generate');
          return 0;
        }
        const ts = Date.now();
        const cls = `${name}${ts}`;
        const q = (s: string) => `    await queryRunner.query(${JSON.stringify(s)});`;
        const body = `import { MigrationInterface, QueryRunner } from 'typeorm';

export class ${cls} implements MigrationInterface {
  name = '${cls}';

  public async up(queryRunner: QueryRunner): Promise<void> {
${drift.up.map(q).join('\n')}
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
${drift.down.reverse().map(q).join('\n')}
  }
}
`;
        const file = path.join(__dirname, '..', 'src', 'database', 'migrations', `${ts}-${name}.ts`);
        await fs.writeFile(file, body);
        console.log(`wrote ${path.relative(process.cwd(), file)} — add ${cls} to src/database/migrations/index.ts`);
        return 0;
      }
      default:
        console.error('usage: db.ts run | revert | check | generate <Name>');
        return 2;
    }
  } finally {
    await ds.destroy();
    // A server this CLI started is stopped again; one that DLS is running stays up.
    if (embedded?.startedHere) await embedded.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
