/**
 * Pure parsers for tgtadm's human-readable `show` outputs (tgt 1.0.x).
 *
 * `tgtadm --mode target --op show` is the only complete view of tgtd (sessions, LUNs, accounts, ACLs). Its grammar
 * is indentation: 4 spaces per level, `Key: value` pairs, section headers ending in `:`. Lines under
 * `Account information:` and `ACL information:` are raw values (an IQN contains `:`), so lines are first built
 * into a tree and then interpreted by context. Unknown keys are ignored, so newer tgt versions still parse.
 */
import { TgtError, TgtErrorCode } from './tgt.errors';

/** One connection of an I_T nexus (iSCSI session). */
export interface TgtNexusConnection {
  cid: number;
  ip: string | null;
}

/** One I_T nexus = one iSCSI session; `sid` is what `conn delete --sid` takes. */
export interface TgtNexus {
  sid: number;
  initiator: string;
  /** `alias: none` is reported as null. */
  alias: string | null;
  connections: TgtNexusConnection[];
}

/** One logical unit. LUN 0 is tgt's controller pseudo-LUN (`type: 'controller'`, no backing store). */
export interface TgtLun {
  lun: number;
  type: string;
  scsiId: string;
  scsiSn: string;
  /** tgt prints decimal megabytes (bytes / 1 000 000, truncated). */
  sizeMb: number;
  blockSize: number;
  online: boolean;
  readonly: boolean;
  removable: boolean;
  thinProvisioning: boolean;
  backingStoreType: string;
  /** `None` (controller LUN) is reported as null. */
  backingStorePath: string | null;
  backingStoreFlags: string;
}

/** An account bound to a target; outgoing (mutual CHAP) accounts print as `<user> (outgoing)`. */
export interface TgtBoundAccount {
  user: string;
  outgoing: boolean;
}

/** One target as printed by `--mode target --op show`. */
export interface TgtTarget {
  tid: number;
  iqn: string;
  driver: string;
  /** `ready` or `offline` (other tgt states are passed through). */
  state: string;
  /** Only present when set on the target or as a portal default. */
  nopInterval?: number;
  nopCount?: number;
  sessions: TgtNexus[];
  luns: TgtLun[];
  accounts: TgtBoundAccount[];
  /** Initiator addresses, `ALL`, or initiator names, in tgt's order. */
  acls: string[];
}

/** One row of `--mode conn --op show --tid N`. */
export interface TgtConnection {
  sid: number;
  cid: number;
  initiator: string;
  ip: string | null;
}

interface Node {
  indent: number;
  text: string;
  line: number;
  children: Node[];
}

function malformed(what: string, node?: Node): TgtError {
  const where = node ? ` at line ${node.line}: ${JSON.stringify(node.text)}` : '';
  return new TgtError(TgtErrorCode.MALFORMED_OUTPUT, `tgtadm show output: ${what}${where}`);
}

/** Builds the indentation tree; tolerates any indent width as long as it is consistent per branch. */
function buildTree(output: string): Node[] {
  const root: Node = { indent: -1, text: '', line: 0, children: [] };
  const stack: Node[] = [root];
  output.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return;
    const indent = line.length - line.trimStart().length;
    const node: Node = { indent, text: line.trim(), line: i + 1, children: [] };
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this check refuses
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line) || line.slice(0, indent).includes('\t')) {
      throw malformed('unexpected control character', node);
    }
    while (stack[stack.length - 1].indent >= indent) stack.pop();
    stack[stack.length - 1].children.push(node);
    stack.push(node);
  });
  return root.children;
}

/** Splits `Key: value` (key up to the first colon). Returns null for lines that are not pairs. */
function pair(text: string): [string, string] | null {
  const m = /^([A-Za-z][A-Za-z0-9 _/-]*):(?:\s+(.*))?$/.exec(text);
  return m ? [m[1], (m[2] ?? '').trim()] : null;
}

function int(value: string, node: Node): number {
  if (!/^\d+$/.test(value)) throw malformed(`expected an integer, got ${JSON.stringify(value)}`, node);
  return Number(value);
}

function yesNo(value: string): boolean {
  return /^yes$/i.test(value);
}

function parseNexus(node: Node, sidText: string): TgtNexus {
  const nexus: TgtNexus = { sid: int(sidText, node), initiator: '', alias: null, connections: [] };
  for (const child of node.children) {
    const kv = pair(child.text);
    if (!kv) continue;
    const [key, value] = kv;
    if (key === 'Initiator') {
      const m = /^(\S+)(?:\s+alias:\s*(.*))?$/.exec(value);
      if (!m) throw malformed('bad Initiator line', child);
      nexus.initiator = m[1];
      const alias = (m[2] ?? '').trim();
      nexus.alias = alias === '' || alias === 'none' ? null : alias;
    } else if (key === 'Connection') {
      let ip: string | null = null;
      for (const c of child.children) {
        const ckv = pair(c.text);
        if (ckv && ckv[0] === 'IP Address') ip = ckv[1];
      }
      nexus.connections.push({ cid: int(value, child), ip });
    }
  }
  if (!nexus.initiator) throw malformed('I_T nexus without an Initiator', node);
  return nexus;
}

function parseLun(node: Node, lunText: string): TgtLun {
  const lun: TgtLun = {
    lun: int(lunText, node),
    type: '',
    scsiId: '',
    scsiSn: '',
    sizeMb: 0,
    blockSize: 0,
    online: false,
    readonly: false,
    removable: false,
    thinProvisioning: false,
    backingStoreType: '',
    backingStorePath: null,
    backingStoreFlags: '',
  };
  for (const child of node.children) {
    const kv = pair(child.text);
    if (!kv) continue;
    const [key, value] = kv;
    switch (key) {
      case 'Type':
        lun.type = value;
        break;
      case 'SCSI ID':
        lun.scsiId = value;
        break;
      case 'SCSI SN':
        lun.scsiSn = value;
        break;
      case 'Size': {
        const m = /^(\d+)\s*MB,\s*Block size:\s*(\d+)$/.exec(value);
        if (!m) throw malformed('bad Size line', child);
        lun.sizeMb = Number(m[1]);
        lun.blockSize = Number(m[2]);
        break;
      }
      case 'Online':
        lun.online = yesNo(value);
        break;
      case 'Readonly':
        lun.readonly = yesNo(value);
        break;
      case 'Removable media':
        lun.removable = yesNo(value);
        break;
      case 'Thin-provisioning':
        lun.thinProvisioning = yesNo(value);
        break;
      case 'Backing store type':
        lun.backingStoreType = value;
        break;
      case 'Backing store path':
        lun.backingStorePath = value === '' || value === 'None' ? null : value;
        break;
      case 'Backing store flags':
        lun.backingStoreFlags = value;
        break;
      default:
        break;
    }
  }
  return lun;
}

function parseTarget(node: Node): TgtTarget {
  const m = /^Target (\d+): (\S+)$/.exec(node.text);
  if (!m) throw malformed('expected "Target <tid>: <iqn>"', node);
  const target: TgtTarget = {
    tid: Number(m[1]),
    iqn: m[2],
    driver: '',
    state: '',
    sessions: [],
    luns: [],
    accounts: [],
    acls: [],
  };
  for (const section of node.children) {
    switch (section.text) {
      case 'System information:':
        for (const c of section.children) {
          const kv = pair(c.text);
          if (!kv) continue;
          if (kv[0] === 'Driver') target.driver = kv[1];
          else if (kv[0] === 'State') target.state = kv[1];
          else if (kv[0] === 'Nop interval') target.nopInterval = int(kv[1], c);
          else if (kv[0] === 'Nop count') target.nopCount = int(kv[1], c);
        }
        break;
      case 'I_T nexus information:':
        for (const c of section.children) {
          const kv = pair(c.text);
          if (kv && kv[0] === 'I_T nexus') target.sessions.push(parseNexus(c, kv[1]));
        }
        break;
      case 'LUN information:':
        for (const c of section.children) {
          const kv = pair(c.text);
          if (kv && kv[0] === 'LUN') target.luns.push(parseLun(c, kv[1]));
        }
        break;
      case 'Account information:':
        for (const c of section.children) {
          const am = /^(\S+)( \(outgoing\))?$/.exec(c.text);
          if (!am) throw malformed('bad account line', c);
          target.accounts.push({ user: am[1], outgoing: am[2] !== undefined });
        }
        break;
      case 'ACL information:':
        for (const c of section.children) target.acls.push(c.text);
        break;
      default:
        break;
    }
  }
  return target;
}

/** Parses `tgtadm --lld iscsi --mode target --op show` (all targets). Empty output → no targets. */
export function parseTargetShow(output: string): TgtTarget[] {
  return buildTree(output).map(parseTarget);
}

/** Parses `tgtadm --lld iscsi --mode conn --op show --tid N`; empty output means nobody is connected. */
export function parseConnShow(output: string): TgtConnection[] {
  const rows: TgtConnection[] = [];
  for (const session of buildTree(output)) {
    const kv = pair(session.text);
    if (!kv || kv[0] !== 'Session') throw malformed('expected "Session: <sid>"', session);
    const sid = int(kv[1], session);
    for (const conn of session.children) {
      const ckv = pair(conn.text);
      if (!ckv || ckv[0] !== 'Connection') continue;
      const row: TgtConnection = { sid, cid: int(ckv[1], conn), initiator: '', ip: null };
      for (const c of conn.children) {
        const p = pair(c.text);
        if (!p) continue;
        if (p[0] === 'Initiator') row.initiator = p[1].split(/\s+/)[0];
        else if (p[0] === 'IP Address') row.ip = p[1];
      }
      rows.push(row);
    }
  }
  return rows;
}

/** Parses `tgtadm --lld iscsi --mode account --op show` (`Account list:` + indented names). */
export function parseAccountShow(output: string): string[] {
  const tree = buildTree(output);
  if (tree.length === 0) return [];
  if (tree.length !== 1 || tree[0].text !== 'Account list:') throw malformed('expected "Account list:"', tree[0]);
  return tree[0].children.map((c) => {
    if (!/^\S+$/.test(c.text)) throw malformed('bad account name', c);
    return c.text;
  });
}
