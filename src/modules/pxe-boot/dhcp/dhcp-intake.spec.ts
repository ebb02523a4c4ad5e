import { DhcpMessageType } from '@protocols/dhcp';
import { DhcpIntake } from './dhcp-intake';

const tick = () => new Promise((r) => setImmediate(r));

describe('DhcpIntake', () => {
  it('serves on a later turn, never more than maxInFlight at once, REQUESTs before DISCOVERs', async () => {
    const served: string[] = [];
    const gates: (() => void)[] = [];
    const intake = new DhcpIntake<string>({
      capacity: 100,
      deadlineMs: 3000,
      maxInFlight: 2,
      serve: (job) => {
        served.push(job);
        return new Promise<void>((r) => gates.push(r));
      },
      onDrop: () => undefined,
    });
    intake.push('d1', 'aa', 1, DhcpMessageType.DISCOVER);
    intake.push('d2', 'bb', 2, DhcpMessageType.DISCOVER);
    intake.push('r1', 'cc', 3, DhcpMessageType.REQUEST);
    expect(served).toEqual([]); // nothing runs inside the socket's callback
    await tick();
    expect(served).toEqual(['r1', 'd2']);
    expect(intake.active).toBe(2);
    expect(intake.depth).toBe(1);
    gates[0]();
    await tick();
    await tick();
    expect(served).toEqual(['r1', 'd2', 'd1']);
    gates[1]();
    gates[2]();
    await intake.close(1000);
    expect(intake.active).toBe(0);
  });

  it('drops a retransmission’s waiting copy and requests past the deadline', async () => {
    let now = 0;
    const drops: [string, string][] = [];
    const served: string[] = [];
    const intake = new DhcpIntake<string>({
      capacity: 100,
      deadlineMs: 1000,
      now: () => now,
      serve: (job) => {
        served.push(job);
        return Promise.resolve();
      },
      onDrop: (job, reason) => drops.push([job, reason]),
    });
    intake.push('old', 'aa', 1, DhcpMessageType.DISCOVER);
    intake.push('copy-1', 'bb', 7, DhcpMessageType.DISCOVER);
    now = 1500;
    intake.push('copy-2', 'bb', 7, DhcpMessageType.DISCOVER);
    await tick();
    expect(served).toEqual(['copy-2']);
    expect(drops).toEqual([
      ['copy-1', 'superseded'],
      ['old', 'stale'],
    ]);
  });
});
