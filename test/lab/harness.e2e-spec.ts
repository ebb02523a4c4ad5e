/**
 * Fast checks of the lab harness pieces (no network boot): the payload boots from a local disk under QEMU and
 * increments the counter, the namespace is created and torn down idempotently, and the pcap reader decodes frames.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestDisk, encodeCounterSector, parseSerial, readCounter } from './disk';
import { createLab, namespaceExists, tapNameForMac } from './netns';
import { dhcpMessageType, readPcap } from './pcap';
import { stripAnsi, uuidForMac } from './qemu';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dls-lab-harness-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('test disk payload', () => {
  it('boots from a local disk (no network) and increments the counter', async () => {
    const disk = join(dir, 'local.img');
    const com1 = join(dir, 'local.com1.log');
    await buildTestDisk(disk, { label: 'local boot', counter: 41 });
    expect(await readCounter(disk)).toBe(41);
    writeFileSync(com1, ''); // QEMU may not have created it yet when polling starts
    // -nic none: this VM has no network at all. QEMU exits only when killed, so wait for the marker then kill.
    const argv = ['-machine', 'pc', '-accel', 'tcg', '-m', '32', '-nodefaults', '-display', 'none', '-nic', 'none'];
    argv.push('-no-reboot', '-drive', `file=${disk},format=raw,if=ide`, '-serial', `file:${com1}`);
    const qemu = execFile('qemu-system-x86_64', argv, { timeout: 30_000 });
    try {
      const deadline = Date.now() + 25_000;
      let text = '';
      while (!text.includes('DLS-END') && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        text = readFileSync(com1, 'latin1');
      }
      expect(parseSerial(text)).toEqual({
        bootOk: true,
        label: 'local boot',
        count: 41,
        writeOk: true,
        errorAh: undefined,
        end: true,
      });
    } finally {
      qemu.kill('SIGKILL');
    }
    expect(await readCounter(disk)).toBe(42);
  }, 40_000);

  it('parses serial output with firmware noise, errors and CRLF', () => {
    const text = '\x1b[2JSeaBIOS\r\nDLS-BOOT-OK\r\nDLS-LABEL:a b:c\r\nDLS-COUNT=7\r\nDLS-WRITE-ERR ah=04\r\nDLS-END\r\n';
    expect(parseSerial(stripAnsi(text))).toEqual({
      bootOk: true,
      label: 'a b:c',
      count: 7,
      writeOk: false,
      errorAh: '04',
      end: true,
    });
    expect(parseSerial('')).toEqual({ bootOk: false, end: false });
  });

  it('rejects labels that would break the serial protocol and disks without the counter magic', async () => {
    await expect(buildTestDisk(join(dir, 'bad.img'), { label: 'line\nbreak' })).rejects.toThrow(/label/);
    const blank = join(dir, 'blank.img');
    writeFileSync(blank, Buffer.alloc(2048));
    await expect(readCounter(blank)).rejects.toThrow(/magic/);
    expect(encodeCounterSector(0x01020304).subarray(0, 12).toString('hex')).toBe('444c53434f554e5404030201');
  });
});

describe('lab namespace', () => {
  it('creates bridge, carrier and taps, and destroy() is idempotent', async () => {
    const lab = await createLab();
    try {
      expect(lab.ns).toContain(String(process.pid));
      const tap = await lab.addTap('52:54:00:AB:CD:EF');
      expect(tap).toBe(tapNameForMac('52:54:00:ab:cd:ef'));
      const { stdout } = await lab.exec(['ip', '-o', 'addr', 'show', 'dev', lab.bridge]);
      expect(stdout).toContain(`${lab.serverIp}/24`);
      expect(stdout).toContain(`${lab.serverIp6}/64`);
      const links = (await lab.exec(['ip', '-o', 'link', 'show', 'master', lab.bridge])).stdout;
      expect(links).toContain(tap);
      expect(links).toContain('dlsv0');
      const bridgeState = (await lab.exec(['ip', '-o', 'link', 'show', lab.bridge])).stdout;
      expect(bridgeState).toMatch(/LOWER_UP/); // the veth gives carrier even with no VM attached
      const sleeper = lab.spawn(['sleep', '600'], { logFile: join(dir, 'sleep.log') });
      expect(sleeper.pid).toBeGreaterThan(0);
      await lab.destroy();
      expect(await sleeper.exited).toBeNull(); // killed by signal
    } finally {
      await lab.destroy();
      await lab.destroy();
    }
    expect(namespaceExists(lab.ns)).toBe(false);
    expect(uuidForMac('52:54:00:ab:cd:ef')).toBe('00d15000-0000-4000-8000-525400abcdef');
  }, 30_000);
});

describe('pcap reader', () => {
  it('decodes an Ethernet/IPv4/UDP DHCP frame from a classic pcap file', () => {
    const dhcp = Buffer.alloc(300);
    dhcp[0] = 1; // BOOTREQUEST
    dhcp.writeUInt32BE(0x63825363, 236); // RFC 2131 §3 magic cookie
    Buffer.from([53, 1, 1, 255]).copy(dhcp, 240); // DHCPDISCOVER
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(68, 0);
    udp.writeUInt16BE(67, 2);
    udp.writeUInt16BE(8 + dhcp.length, 4);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + 8 + dhcp.length, 2);
    ip[9] = 17;
    Buffer.from([255, 255, 255, 255]).copy(ip, 16);
    const eth = Buffer.concat([Buffer.alloc(6, 0xff), Buffer.from('525400abcdef', 'hex'), Buffer.from([8, 0])]);
    const frame = Buffer.concat([eth, ip, udp, dhcp]);
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(65535, 16);
    header.writeUInt32LE(1, 20);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(1700000000, 0);
    rec.writeUInt32LE(500000, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    const file = join(dir, 'one.pcap');
    writeFileSync(file, Buffer.concat([header, rec, frame]));
    const [p] = readPcap(file);
    expect(p).toMatchObject({ ts: 1700000000.5, srcMac: '52:54:00:ab:cd:ef', src: '0.0.0.0', dst: '255.255.255.255' });
    expect(p.srcPort).toBe(68);
    expect(p.dstPort).toBe(67);
    expect(dhcpMessageType(p.payload as Buffer)).toBe(1);
  });
});
