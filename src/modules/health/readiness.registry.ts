import { Injectable, Logger } from '@nestjs/common';
import { HealthIndicatorFunction, HealthIndicatorService } from '@nestjs/terminus';

/** One readiness answer: `up`, plus what an operator needs to see (never secrets). */
export interface ReadinessState {
  up: boolean;
  detail?: Record<string, unknown>;
}

/** A readiness check; it should answer quickly — the registry gives up on it after {@link READINESS_CHECK_TIMEOUT_MS}. */
export type ReadinessCheck = () => Promise<ReadinessState>;

/** Bound for one check: a hung dependency makes its part `down`, never the whole request slow. */
export const READINESS_CHECK_TIMEOUT_MS = 3000;

const NAME = /^[a-z][a-z0-9_.:-]{0,63}$/;

/**
 * The parts `/health/ready` reports besides the database. A module that runs something the boot plane depends on
 * (storage, tgtd, DHCP per interface, TFTP, RA) registers a check here when its configuration enables it, so the
 * health controller never needs to know the modules. Global: inject it anywhere (mark the injection `@Optional()`
 * where a module is also built without the health module, as in unit tests).
 */
@Injectable()
export class ReadinessRegistry {
  private readonly logger = new Logger(ReadinessRegistry.name);
  private readonly checks = new Map<string, ReadinessCheck>();

  constructor(private readonly indicators: HealthIndicatorService) {}

  /** Adds (or replaces) the check reported as `name`; returns a function that removes it. */
  register(name: string, check: ReadinessCheck): () => void {
    if (!NAME.test(name) || name === 'database') throw new Error(`invalid readiness part name ${JSON.stringify(name)}`);
    if (this.checks.has(name)) this.logger.warn(`readiness check ${name} registered twice; the later one wins`);
    this.checks.set(name, check);
    return () => {
      if (this.checks.get(name) === check) this.checks.delete(name);
    };
  }

  /** Names of the registered parts, in registration order. */
  names(): string[] {
    return [...this.checks.keys()];
  }

  /** Whether each registered part is up now (a throwing or slow check counts as down): the metrics' view. */
  async states(): Promise<Record<string, boolean>> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          return [name, (await withTimeout(check(), READINESS_CHECK_TIMEOUT_MS)).up] as const;
        } catch {
          return [name, false] as const;
        }
      }),
    );
    return Object.fromEntries(entries);
  }

  /** The registered checks as terminus indicator functions (a throwing or slow check counts as `down`). */
  indicatorFunctions(): HealthIndicatorFunction[] {
    return [...this.checks].map(([name, check]) => async () => {
      const session = this.indicators.check(name);
      let state: ReadinessState;
      try {
        state = await withTimeout(check(), READINESS_CHECK_TIMEOUT_MS);
      } catch (e) {
        state = { up: false, detail: { reason: e instanceof Error ? e.message : String(e) } };
      }
      const detail = { ...state.detail };
      delete detail.status; // reserved by terminus
      return state.up ? session.up(detail) : session.down(detail);
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
