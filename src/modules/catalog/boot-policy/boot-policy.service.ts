import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { ConflictError, NotFoundError } from '@common/errors/domain-error';
import { Client } from '../clients/client.entity';
import { DiskPolicy, Image } from '../images/image.entity';
import { ImageSnapshot } from '../versions/image-snapshot.entity';
import { BootMethod, BootStanding, bootMethodOf, diskPolicyOf, standingOf, StandingFacts, versionChoiceOf } from './boot-policy';
import { BootPolicyErrorCode } from './boot-policy.errors';
import { ClientBootFacts, ClientDirectory } from './client-directory';
import { ClientGroupDirectory } from '../groups/client-group-directory';

/** Everything a bootable client boots now. */
export interface BootTarget {
  client: Client;
  image: Image;
  version: ImageSnapshot;
  policy: DiskPolicy;
  /** The image's maintenance client: a persistent clone of the newest version, committable as a new version. */
  isMaintenance: boolean;
  method: BootMethod;
}

/**
 * The one answer to "what does this MAC boot now — nothing, an address only, or this image/version/disk policy/
 * loader/params" (in the spirit of Pixiecore's `Booter`). The DHCP server, the iPXE script route, session opening
 * and disk preparation all ask it; the rules themselves are the pure functions in `boot-policy.ts`.
 *
 * MAC lookups go through {@link ClientDirectory}, an explicit cache kept current by client change events, so the
 * DHCP hot path costs no database round trip per packet.
 */
@Injectable()
export class BootPolicyService {
  constructor(
    private readonly directory: ClientDirectory,
    @InjectRepository(Client) private readonly clients: Repository<Client>,
    @InjectRepository(Image) private readonly images: Repository<Image>,
    @InjectRepository(ImageSnapshot) private readonly versions: Repository<ImageSnapshot>,
    private readonly groups: ClientGroupDirectory,
  ) {}

  /** The client with each inheritable setting replaced by its effective value (own, else its group's, else default). */
  resolve(client: Client): Promise<Client> {
    return this.groups.resolve(client);
  }

  /** The client with this MAC (any notation), or null. Cached; never throws for a bad MAC. */
  lookup(mac: string): Promise<ClientBootFacts | null> {
    return this.directory.lookup(mac);
  }

  /** Registers an unknown MAC as a disabled, pending client (DHCP range policy `register`). Idempotent. */
  register(mac: string, rangeId: string): Promise<ClientBootFacts> {
    return this.directory.register(mac, rangeId);
  }

  /** Where a client record stands (see {@link standingOf}). */
  standing(client: StandingFacts | null): BootStanding {
    return standingOf(client);
  }

  /**
   * What the client boots now: its image, the version (maintenance → newest, pinned → the pin, else published), the
   * disk policy in force and how the disk is started. 404 for an unknown client or image; 409 CLIENT_HAS_NO_IMAGE
   * or NO_BOOTABLE_VERSION when there is nothing to boot.
   */
  async target(clientId: string): Promise<BootTarget> {
    const stored = await this.clients.findOne({ where: { id: clientId } });
    if (!stored) throw new NotFoundError('client', clientId);
    const client = await this.groups.resolve(stored);
    if (!client.assignedImageId) {
      throw new ConflictError(BootPolicyErrorCode.CLIENT_HAS_NO_IMAGE, `client ${client.hostname} has no assigned image`);
    }
    const image = await this.images.findOne({ where: { id: client.assignedImageId } });
    if (!image) throw new NotFoundError('image', client.assignedImageId);
    const choice = versionChoiceOf(client, image);
    const version =
      choice.kind === 'newest'
        ? await this.versions.findOne({ where: { imageId: image.id }, order: { createdAt: 'DESC' } })
        : choice.kind === 'pinned'
          ? await this.versions.findOne({ where: { id: choice.versionId, imageId: image.id } })
          : await this.versions.findOne({ where: { imageId: image.id, isPublished: true } });
    if (!version || !version.storageRef) {
      throw new ConflictError(
        BootPolicyErrorCode.NO_BOOTABLE_VERSION,
        choice.kind === 'newest'
          ? `image ${image.name} has no version to maintain`
          : choice.kind === 'pinned'
            ? `client ${client.hostname} is pinned to a version that is not part of image ${image.name}`
            : `image ${image.name} has no published version`,
      );
    }
    const isMaintenance = choice.kind === 'newest';
    return { client, image, version, isMaintenance, policy: diskPolicyOf(client, image, isMaintenance), method: bootMethodOf(image, client) };
  }
}
