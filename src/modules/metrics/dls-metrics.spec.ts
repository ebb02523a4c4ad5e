import { DlsMetrics } from './dls-metrics';

describe('DlsMetrics', () => {
  it('labels TFTP files by loader name and everything else as other (bounded label set)', () => {
    expect(DlsMetrics.tftpFile('undionly.kpxe')).toBe('undionly.kpxe');
    expect(DlsMetrics.tftpFile('/ipxe.efi')).toBe('ipxe.efi');
    expect(DlsMetrics.tftpFile('../../etc/passwd')).toBe('other');
    expect(DlsMetrics.tftpFile('x'.repeat(500))).toBe('other');
  });

  it('observes the boot duration and each stage from the session transitions', async () => {
    const m = new DlsMetrics({ defaultMetrics: false });
    const startedAt = new Date(1_000_000);
    m.sessionEntered({ id: 's1', status: 'starting', startedAt }, 1_000_000);
    m.sessionEntered({ id: 's1', status: 'booting', startedAt }, 1_004_000);
    m.sessionEntered({ id: 's1', status: 'running', startedAt }, 1_010_000);
    const text = await m.text();
    expect(text).toMatch(/^dls_boot_duration_seconds_sum 10$/m);
    expect(text).toMatch(/^dls_boot_stage_duration_seconds_sum\{stage="starting"\} 4$/m);
    expect(text).toMatch(/^dls_boot_stage_duration_seconds_sum\{stage="booting"\} 6$/m);
    expect(text).toMatch(/^dls_boot_session_transitions_total\{status="running"\} 1$/m);
    expect(text).not.toMatch(/^nodejs_/m);
  });

  it('records no booting stage for a session that went straight to running, and forgets ended sessions', async () => {
    const m = new DlsMetrics({ defaultMetrics: false });
    const startedAt = new Date(0);
    m.sessionEntered({ id: 's2', status: 'booting', startedAt }, 1000);
    m.sessionEntered({ id: 's2', status: 'error', startedAt }, 2000);
    m.sessionEntered({ id: 's3', status: 'running', startedAt }, 3000);
    const text = await m.text();
    expect(text).not.toMatch(/^dls_boot_stage_duration_seconds_count\{stage="booting"\}/m);
    expect(text).toMatch(/^dls_boot_duration_seconds_count 1$/m);
  });
});
