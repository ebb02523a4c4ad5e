import { DataSource } from 'typeorm';
import { BootSession } from '../../src/modules/catalog/boot-sessions/boot-session.entity';
import { Client } from '../../src/modules/catalog/clients/client.entity';
import { Image } from '../../src/modules/catalog/images/image.entity';
import { ImageSnapshot } from '../../src/modules/catalog/versions/image-snapshot.entity';

let seq = 0;
/** A short unique suffix per call (pid + counter), so factories never collide inside one database. */
export function unique(prefix = 'x'): string {
  return `${prefix}-${process.pid.toString(36)}-${(++seq).toString(36)}`;
}

/** A unique locally administered MAC (02:…), canonical form. */
export function uniqueMac(): string {
  const n = (process.pid * 65536 + ++seq) % 2 ** 40;
  const hex = n.toString(16).padStart(10, '0');
  return `02:${hex.match(/../g)!.join(':')}`;
}

/** API body for `POST /images`. */
export function imageBody(over: Record<string, unknown> = {}): Record<string, unknown> & { name: string } {
  return { name: unique('img'), sizeBytes: 1024 ** 3, format: 'raw', path: '/var/lib/dls/images/test.img', ...over };
}

/** API body for `POST /clients`. */
export function clientBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { macAddress: uniqueMac(), hostname: unique('pc'), ...over };
}

/** API body for `POST /network-ranges`. */
export function rangeBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: unique('net'), cidr: '10.99.0.0/24', ...over };
}

/** Inserts an image through its repository (no API, no audit). */
export async function makeImage(ds: DataSource, over: Partial<Image> = {}): Promise<Image> {
  const repo = ds.getRepository(Image);
  return repo.save(repo.create({ name: unique('img'), sizeBytes: 1024 ** 3, format: 'raw', path: '/srv/test.img', ...over }));
}

/** Inserts a client through its repository. */
export async function makeClient(ds: DataSource, over: Partial<Client> = {}): Promise<Client> {
  const repo = ds.getRepository(Client);
  return repo.save(repo.create({ macAddress: uniqueMac(), hostname: unique('pc'), ...over }));
}

/** Inserts an image version through its repository. */
export async function makeSnapshot(ds: DataSource, imageId: string, over: Partial<ImageSnapshot> = {}): Promise<ImageSnapshot> {
  const repo = ds.getRepository(ImageSnapshot);
  return repo.save(repo.create({ imageId, name: unique('v'), ...over }));
}

/** Inserts a boot session through its repository (status `starting` unless given). */
export async function makeSession(ds: DataSource, client: Client, over: Partial<BootSession> = {}): Promise<BootSession> {
  const repo = ds.getRepository(BootSession);
  return repo.save(repo.create({ clientId: client.id, imageId: client.assignedImageId!, ...over }));
}
