import { chooseWakeRange, RangeEvidence, wakeRangeProblem, WakeRangeFacts } from './wake-range';
import { WakeErrorCode } from './wake.errors';

const none: RangeEvidence = { reservation: null, lease: null, 'boot-session': null, 'group-default': null };

describe('chooseWakeRange', () => {
  it('a reserved address decides first', () => {
    expect(chooseWakeRange({ reservation: 'r', lease: 'l', 'boot-session': 's', 'group-default': 'g' })).toEqual({
      rangeId: 'r',
      source: 'reservation',
    });
  });
  it('then the latest DHCP lease', () => {
    expect(chooseWakeRange({ ...none, lease: 'l', 'boot-session': 's', 'group-default': 'g' })).toEqual({ rangeId: 'l', source: 'lease' });
  });
  it('then the address of the latest boot (proxy mode: another server leased it)', () => {
    expect(chooseWakeRange({ ...none, 'boot-session': 's', 'group-default': 'g' })).toEqual({ rangeId: 's', source: 'boot-session' });
  });
  it("then the group's default range", () => {
    expect(chooseWakeRange({ ...none, 'group-default': 'g' })).toEqual({ rangeId: 'g', source: 'group-default' });
  });
  it('nothing known: null', () => {
    expect(chooseWakeRange(none)).toBeNull();
  });
});

describe('wakeRangeProblem', () => {
  const ok: WakeRangeFacts = { id: 'r', name: 'room-a', enabled: true, dhcpMode: 'full', interface: 'eth1' };
  it('an enabled full or proxy range with an interface: the boot plane may try', () => {
    expect(wakeRangeProblem(ok)).toBeNull();
    expect(wakeRangeProblem({ ...ok, dhcpMode: 'proxy' })).toBeNull();
  });
  it('a disabled range', () => {
    expect(wakeRangeProblem({ ...ok, enabled: false })?.code).toBe(WakeErrorCode.WAKE_RANGE_DISABLED);
  });
  it('no interface', () => {
    expect(wakeRangeProblem({ ...ok, interface: null })).toEqual({
      code: WakeErrorCode.WAKE_RANGE_NO_INTERFACE,
      message: 'range room-a has no interface configured: DLS does not know where to send the broadcast',
    });
  });
  it('dhcpMode off: no socket on its interface', () => {
    expect(wakeRangeProblem({ ...ok, dhcpMode: 'off' })?.message).toBe('range room-a has dhcpMode off: DLS binds no socket on eth1 to send from');
  });
});
