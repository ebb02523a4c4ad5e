import type { TgtAdmAdapter } from '../tgt.adapter';
import type { TgtConnection, TgtLun, TgtTarget } from '../tgt-show.parser';
import { TgtError, TgtErrorCode } from '../tgt.errors';

/**
 * In-memory stand-in for {@link TgtAdmAdapter} with tgtd's semantics (error texts, global accounts, account delete
 * drops bindings, plain delete refuses with sessions). For unit specs of code that drives tgt; the real daemon is
 * covered by the e2e tests under test/iscsi.
 */
export class FakeTgt {
  targets = new Map<number, TgtTarget>();
  accounts = new Map<string, string>();
  calls: string[] = [];
  /** Make the next call whose name matches fail with this code. */
  failOn: Array<{ method: string; code: TgtErrorCode; times?: number }> = [];
  /** Number of `delete --force` attempts that answer LUN_ACTIVE while sessions exist. */
  busyForceDeletes = 0;
  private nextSid = 1;

  asAdapter(): TgtAdmAdapter {
    return this as unknown as TgtAdmAdapter;
  }

  addSession(tid: number, initiator: string): number {
    const sid = this.nextSid++;
    this.target(tid).sessions.push({ sid, initiator, alias: null, connections: [{ cid: 0, ip: '127.0.0.1' }] });
    return sid;
  }

  private hit(method: string, detail = ''): void {
    this.calls.push(detail ? `${method} ${detail}` : method);
    const i = this.failOn.findIndex((f) => f.method === method);
    if (i >= 0) {
      const f = this.failOn[i];
      if (!f.times || --f.times <= 0) this.failOn.splice(i, 1);
      throw new TgtError(f.code, `fake ${method} failure`);
    }
  }

  private target(tid: number): TgtTarget {
    const t = this.targets.get(tid);
    if (!t) throw new TgtError(TgtErrorCode.TARGET_NOT_FOUND, "can't find the target");
    return t;
  }

  async newTarget(tid: number, iqn: string): Promise<void> {
    this.hit('newTarget', String(tid));
    if (this.targets.has(tid) || [...this.targets.values()].some((t) => t.iqn === iqn)) {
      throw new TgtError(TgtErrorCode.TARGET_EXISTS, 'this target already exists');
    }
    const controller = lun(0, 'controller', null);
    this.targets.set(tid, { tid, iqn, driver: 'iscsi', state: 'ready', sessions: [], luns: [controller], accounts: [], acls: [] });
  }

  async deleteTarget(tid: number, options: { force?: boolean } = {}): Promise<void> {
    this.hit('deleteTarget', `${tid}${options.force ? ' force' : ''}`);
    const t = this.target(tid);
    if (t.sessions.length && !options.force) {
      throw new TgtError(TgtErrorCode.TARGET_ACTIVE, 'this target is still active');
    }
    if (t.sessions.length && this.busyForceDeletes > 0) {
      this.busyForceDeletes--;
      throw new TgtError(TgtErrorCode.LUN_ACTIVE, 'this logical unit is still active');
    }
    this.targets.delete(tid);
  }

  async setTargetState(tid: number, state: 'offline' | 'ready'): Promise<void> {
    this.hit('setTargetState', `${tid} ${state}`);
    this.target(tid).state = state;
  }

  async newLun(tid: number, n: number, path: string, options: { bstype?: string } = {}): Promise<void> {
    this.hit('newLun', `${tid} ${n}`);
    const t = this.target(tid);
    if (t.luns.some((l) => l.lun === n)) {
      throw new TgtError(TgtErrorCode.LUN_EXISTS, 'this logical unit number already exists');
    }
    t.luns.push({ ...lun(n, 'disk', path), backingStoreType: options.bstype ?? 'rdwr' });
  }

  async deleteLun(tid: number, n: number): Promise<void> {
    this.hit('deleteLun', `${tid} ${n}`);
    const t = this.target(tid);
    if (!t.luns.some((l) => l.lun === n)) throw new TgtError(TgtErrorCode.LUN_NOT_FOUND, "can't find the logical unit");
    t.luns = t.luns.filter((l) => l.lun !== n);
  }

  async updateLun(tid: number, n: number, params: Record<string, string>): Promise<void> {
    this.hit('updateLun', `${tid} ${n}`);
    const l = this.target(tid).luns.find((x) => x.lun === n);
    if (!l) throw new TgtError(TgtErrorCode.LUN_NOT_FOUND, "can't find the logical unit");
    if (params.scsi_sn) l.scsiSn = params.scsi_sn;
    if (params.scsi_id) l.scsiId = params.scsi_id;
  }

  async bindInitiatorName(tid: number, name: string): Promise<void> {
    this.hit('bindInitiatorName', `${tid} ${name}`);
    this.bindAcl(tid, name);
  }

  async bindInitiatorAddress(tid: number, addr: string): Promise<void> {
    this.hit('bindInitiatorAddress', `${tid} ${addr}`);
    this.bindAcl(tid, addr);
  }

  async unbindInitiatorName(tid: number, name: string): Promise<void> {
    this.hit('unbindInitiatorName', `${tid} ${name}`);
    this.unbindAcl(tid, name);
  }

  async unbindInitiatorAddress(tid: number, addr: string): Promise<void> {
    this.hit('unbindInitiatorAddress', `${tid} ${addr}`);
    this.unbindAcl(tid, addr);
  }

  async newAccount(user: string, password: string): Promise<void> {
    this.hit('newAccount', user);
    if (this.accounts.has(user)) throw new TgtError(TgtErrorCode.ACCOUNT_EXISTS, 'this account already exists');
    this.accounts.set(user, password);
  }

  async deleteAccount(user: string): Promise<void> {
    this.hit('deleteAccount', user);
    if (!this.accounts.delete(user)) throw new TgtError(TgtErrorCode.ACCOUNT_NOT_FOUND, "can't find the account");
    for (const t of this.targets.values()) t.accounts = t.accounts.filter((a) => a.user !== user);
  }

  async bindAccount(tid: number, user: string, options: { outgoing?: boolean } = {}): Promise<void> {
    this.hit('bindAccount', `${tid} ${user}`);
    const t = this.target(tid);
    if (!this.accounts.has(user)) throw new TgtError(TgtErrorCode.ACCOUNT_NOT_FOUND, "can't find the account");
    if (t.accounts.some((a) => a.user === user)) {
      throw new TgtError(TgtErrorCode.ACCOUNT_EXISTS, 'this account already exists');
    }
    t.accounts.push({ user, outgoing: !!options.outgoing });
  }

  async unbindAccount(tid: number, user: string): Promise<void> {
    this.hit('unbindAccount', `${tid} ${user}`);
    const t = this.target(tid);
    if (!t.accounts.some((a) => a.user === user)) {
      throw new TgtError(TgtErrorCode.ACCOUNT_NOT_FOUND, "can't find the account");
    }
    t.accounts = t.accounts.filter((a) => a.user !== user);
  }

  async listAccounts(): Promise<string[]> {
    return [...this.accounts.keys()].sort();
  }

  async showTargets(): Promise<TgtTarget[]> {
    this.hit('showTargets');
    return JSON.parse(JSON.stringify([...this.targets.values()].sort((a, b) => a.tid - b.tid))) as TgtTarget[];
  }

  async showConnections(tid: number): Promise<TgtConnection[]> {
    return this.target(tid).sessions.map((s) => ({ sid: s.sid, cid: 0, initiator: s.initiator, ip: '127.0.0.1' }));
  }

  async deleteConnection(tid: number, sid: number): Promise<void> {
    this.hit('deleteConnection', `${tid} ${sid}`);
    const t = this.target(tid);
    if (!t.sessions.some((s) => s.sid === sid)) {
      throw new TgtError(TgtErrorCode.SESSION_NOT_FOUND, "can't find the session");
    }
    t.sessions = t.sessions.filter((s) => s.sid !== sid);
  }

  private bindAcl(tid: number, v: string): void {
    const t = this.target(tid);
    if (t.acls.includes(v)) throw new TgtError(TgtErrorCode.ACL_EXISTS, 'this access control rule already exists');
    t.acls.push(v);
  }

  private unbindAcl(tid: number, v: string): void {
    const t = this.target(tid);
    if (!t.acls.includes(v)) throw new TgtError(TgtErrorCode.ACL_NOT_FOUND, 'this access control rule does not exist');
    t.acls = t.acls.filter((a) => a !== v);
  }
}

function lun(n: number, type: string, path: string | null): TgtLun {
  return {
    lun: n,
    type,
    scsiId: `IET     0001000${n}`,
    scsiSn: `beaf1${n}`,
    sizeMb: 67,
    blockSize: 512,
    online: true,
    readonly: false,
    removable: false,
    thinProvisioning: false,
    backingStoreType: path ? 'rdwr' : 'null',
    backingStorePath: path,
    backingStoreFlags: '',
  };
}
