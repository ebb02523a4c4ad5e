import { Inject, Injectable, Logger, OnModuleInit, Optional } from '@nestjs/common';
import { PacedQueue } from '@common/concurrency/paced-queue';
import { DomainError, DomainErrorKind, NotFoundError } from '@common/errors/domain-error';
import { AppConfig } from '@config/config.loader';
import { encodeMagicPacket } from '@protocols/wol';
import { ClientWaker, ClientWakerRegistry, ClientWakeResult } from '../catalog';
import { RANGE_BROADCASTER, RangeBroadcaster } from '../pxe-boot';
import { chooseWakeRange, wakeRangeProblem, WakeRangeFacts } from './wake-range';
import { WakeTarget, WakeTargets } from './wake-targets';
import { WakeErrorCode } from './wake.errors';
import { WAKE_EVENT_SINK, WakeBatchEvent, WakeClientOutcome, WakeEventSink, WakeTrigger } from './wake.events';

/** A finished batch: every client's outcome, in hostname order. */
export interface WakeBatch {
  total: number;
  sent: number;
  failed: number;
  clients: WakeClientOutcome[];
}

/**
 * Wake-on-LAN. A client is woken by a magic packet (`src/protocols/wol`) sent as a broadcast to each of
 * `DLS_WOL_PORTS` on the interface of its own network range (see `wake-range.ts` for how the range is found), through
 * the DHCP server's socket bound to that interface ({@link RangeBroadcaster}): never on another range's network.
 * Every packet DLS sends goes through one {@link PacedQueue}, `DLS_WOL_GAP_MS` apart, so a room (or several) leaves as
 * a trickle, not a burst. A client that can't be woken is reported with a code naming why; others go on.
 *
 * Also the catalogue's bulk `wake` action's waker (registered in {@link ClientWakerRegistry} at start).
 */
@Injectable()
export class WakeService implements ClientWaker, OnModuleInit {
  private readonly logger = new Logger(WakeService.name);
  private readonly queue: PacedQueue;

  constructor(
    private readonly config: AppConfig,
    private readonly targets: WakeTargets,
    @Inject(RANGE_BROADCASTER) private readonly broadcaster: RangeBroadcaster,
    private readonly registry: ClientWakerRegistry,
    @Optional() @Inject(WAKE_EVENT_SINK) private readonly events?: WakeEventSink,
  ) {
    this.queue = new PacedQueue(config.wol.gapMs);
  }

  onModuleInit(): void {
    this.registry.register(this);
  }

  /** Wakes one client: its outcome when sent; 404 for an unknown client, the reason (409, or 503) when not sent. */
  async wakeClient(id: string): Promise<WakeClientOutcome> {
    const [target] = await this.targets.clients([id]);
    if (!target) throw new NotFoundError('client', id, WakeErrorCode.CLIENT_NOT_FOUND);
    const { batch, errors } = await this.wake([target], { trigger: 'client' });
    const error = errors.get(target.id);
    if (error) throw error;
    return batch.clients[0];
  }

  /** Wakes every member of a group (404 for an unknown group); outcomes per client. */
  async wakeGroup(
    groupId: string,
    context: { trigger: WakeTrigger; scheduleId?: string } = { trigger: 'group' },
  ): Promise<WakeBatch & { group: string }> {
    const g = await this.targets.groupMembers(groupId);
    if (!g) throw new NotFoundError('client group', groupId, WakeErrorCode.GROUP_NOT_FOUND);
    return { group: g.name, ...(await this.wake(g.members, { ...context, groupId })).batch };
  }

  /** {@link ClientWaker}: the bulk action's clients, in the order given. */
  async wakeClients(clients: readonly { id: string; hostname: string }[]): Promise<ClientWakeResult[]> {
    const found = new Map((await this.targets.clients(clients.map((c) => c.id))).map((t) => [t.id, t]));
    const ordered = clients.map((c) => found.get(c.id)).filter((t): t is WakeTarget => t !== undefined);
    const byId = new Map((await this.wake(ordered, { trigger: 'bulk' })).batch.clients.map((o) => [o.clientId, o]));
    return clients.map((c) => {
      const o = byId.get(c.id);
      if (!o)
        return { clientId: c.id, hostname: c.hostname, status: 'failed', code: WakeErrorCode.CLIENT_NOT_FOUND, message: `client ${c.id} not found` };
      return { clientId: o.clientId, hostname: o.hostname, status: o.status, code: o.code, message: o.message };
    });
  }

  /** Wakes `targets` in order; the batch, and the error behind each failed client (by client id). */
  private async wake(
    targets: readonly WakeTarget[],
    context: { trigger: WakeTrigger; groupId?: string; scheduleId?: string },
  ): Promise<{ batch: WakeBatch; errors: Map<string, Error> }> {
    const chosen = targets.map((t) => ({ target: t, choice: chooseWakeRange(t.evidence) }));
    const ranges = await this.targets.ranges(chosen.flatMap((c) => (c.choice ? [c.choice.rangeId] : [])));
    const clients: WakeClientOutcome[] = [];
    const errors = new Map<string, Error>();
    for (const { target, choice } of chosen) {
      const base = { clientId: target.id, hostname: target.hostname, macAddress: target.macAddress };
      let result: { outcome: WakeClientOutcome; error?: Error };
      if (!choice) {
        result = refused(
          base,
          WakeErrorCode.WAKE_NO_RANGE,
          `client ${target.hostname} (${target.macAddress}) has no known network range: no reserved address, DHCP lease or boot in a range, and its group names no default range`,
        );
      } else {
        const range = ranges.get(choice.rangeId);
        const where = { ...base, rangeId: choice.rangeId, range: range?.name, source: choice.source };
        result = range
          ? await this.send(where, target.macAddress, range)
          : refused(where, WakeErrorCode.WAKE_NO_RANGE, `client ${target.hostname}'s range ${choice.rangeId} no longer exists`);
      }
      clients.push(result.outcome);
      if (result.error) errors.set(target.id, result.error);
    }
    const failed = clients.filter((c) => c.status === 'failed');
    const batch: WakeBatch = { total: clients.length, sent: clients.length - failed.length, failed: failed.length, clients };
    if (clients.length) {
      const what = context.groupId ? `group ${context.groupId}` : context.trigger === 'client' ? `client ${clients[0].hostname}` : 'selection';
      const why = failed.length ? ` (not sent: ${[...new Set(failed.map((f) => f.code))].join(', ')})` : '';
      this.logger.log(`Wake-on-LAN (${context.trigger}) ${what}: sent to ${batch.sent} of ${batch.total} client(s)${why}`);
    }
    this.publish({ ...context, ...batch });
    return { batch, errors };
  }

  /** Sends the magic packet to every configured port, paced; the outcome names the interface it left through. */
  private async send(
    where: Omit<WakeClientOutcome, 'status'>,
    mac: string,
    range: WakeRangeFacts,
  ): Promise<{ outcome: WakeClientOutcome; error?: Error }> {
    const at = { ...where, interface: range.interface ?? undefined };
    const problem = wakeRangeProblem(range);
    if (problem) return refused(at, problem.code, `client ${where.hostname}: ${problem.message}`);
    const packet = encodeMagicPacket(mac);
    let sentOn: string | undefined;
    try {
      for (const port of this.config.wol.ports) {
        sentOn = (await this.queue.run(() => this.broadcaster.broadcastOnRange(range.id, port, packet))).interface;
        if (Logger.isLevelEnabled('debug')) this.logger.debug(`magic packet for ${mac} (${where.hostname}) sent to port ${port} on ${sentOn}`);
      }
    } catch (err) {
      if (err instanceof DomainError) return refused(at, err.code, `client ${where.hostname}: ${err.message}`, err.kind, err.details);
      this.logger.error(`Wake-on-LAN of ${where.hostname} (${mac}) failed`, err as Error);
      return {
        outcome: { ...at, status: 'failed', code: WakeErrorCode.INTERNAL, message: 'unexpected error (see the server log)' },
        error: err as Error,
      };
    }
    return { outcome: { ...where, interface: sentOn, status: 'ok' } };
  }

  private publish(event: WakeBatchEvent): void {
    try {
      this.events?.wakeSent(event);
    } catch (err) {
      this.logger.warn(`wake event not published: ${(err as Error).message}`);
    }
  }
}

/** A client not woken, and the domain error (409 by default) a single-client wake answers with. */
function refused(
  where: Omit<WakeClientOutcome, 'status'>,
  code: string,
  message: string,
  kind: DomainErrorKind = 'conflict',
  details: Record<string, unknown> = {},
): { outcome: WakeClientOutcome; error: DomainError } {
  const outcome: WakeClientOutcome = { ...where, status: 'failed', code, message };
  const error = new DomainError(kind, code, message, { ...details, clientId: where.clientId, rangeId: where.rangeId, interface: where.interface });
  return { outcome, error };
}
