import { batches, bulkRowErrors, canonicalColumn, errorsByLine, parseBool, parseClientsCsv, rewriteRowReferences } from './csv-import';

const lookups = {
  groups: new Map([['room-a', 'group-uuid-a']]),
  images: new Map([['win11', 'image-uuid-w']]),
};

describe('CSV → CreateClientDto', () => {
  it('maps the header and cells to DTO fields; empty cells are left out', () => {
    const p = parseClientsCsv(
      'macAddress,hostname,ipAddress,enabled,cpuCores\n52:54:00:00:00:01,pc-01,10.0.0.1,no,4\n52:54:00:00:00:02,pc-02,,,\n',
      lookups,
    );
    expect(p.fatal).toBeUndefined();
    expect(p.rows).toHaveLength(2);
    expect(p.rows[0]).toMatchObject({
      line: 2,
      dto: { macAddress: '52:54:00:00:00:01', hostname: 'pc-01', ipAddress: '10.0.0.1', enabled: false, cpuCores: 4 },
    });
    expect(p.rows[1].dto).toEqual({ macAddress: '52:54:00:00:00:02', hostname: 'pc-02' });
  });

  it('reads group and image by name (any case) and reports unknown names on the row', () => {
    const p = parseClientsCsv('mac,hostname,group,image\naa:bb:cc:dd:ee:01,a,Room-A,WIN11\naa:bb:cc:dd:ee:02,b,room-z,\n', lookups);
    expect(p.rows[0].dto).toEqual({ macAddress: 'aa:bb:cc:dd:ee:01', hostname: 'a', groupId: 'group-uuid-a', assignedImageId: 'image-uuid-w' });
    expect(p.rows[1].dto).toBeUndefined();
    expect(p.rows[1].problems).toEqual(['group "room-z" does not exist']);
  });

  it('passes MACs as typed: the API validates them and its message is shown on the line', () => {
    const p = parseClientsCsv('macAddress,hostname\nnot-a-mac,pc-1\n', lookups);
    expect(p.rows[0].dto).toEqual({ macAddress: 'not-a-mac', hostname: 'pc-1' });
  });

  it('keeps the file line numbers across blank lines, CRLF and quoted newlines', () => {
    const text = 'macAddress,hostname,customBootParams\r\n\r\naa:bb:cc:dd:ee:01,"pc\n1",quiet\r\naa:bb:cc:dd:ee:02,pc-2,\r\n';
    const p = parseClientsCsv(text, lookups);
    expect(p.rows.map((r) => r.line)).toEqual([3, 5]);
    expect(p.rows[0].dto?.hostname).toBe('pc\n1');
  });

  it('refuses a file without the required columns, or with unknown or repeated ones', () => {
    expect(parseClientsCsv('', lookups).fatal).toMatch(/empty/);
    expect(parseClientsCsv('hostname\npc-1\n', lookups).fatal).toMatch(/needs the column\(s\) macAddress/);
    expect(parseClientsCsv('mac,hostname,colour\n', lookups).fatal).toMatch(/unknown column\(s\) "colour"/);
    expect(parseClientsCsv('mac,hostname,MAC address\n', lookups).fatal).toMatch(/macAddress appear twice/);
  });

  it('reports local problems: empty required cells, bad booleans and numbers, extra cells', () => {
    const p = parseClientsCsv('mac,hostname,enabled,memoryMb\n,pc,maybe,lots\naa:bb:cc:dd:ee:01,pc,1,512,extra\n', lookups);
    expect(p.rows[0].problems).toEqual([
      'macAddress is empty',
      'enabled must be true or false (got "maybe")',
      'memoryMb must be a whole number (got "lots")',
    ]);
    expect(p.rows[1].problems).toEqual(['has 5 cells but the header has 4']);
  });

  it('understands header spellings and boolean words', () => {
    expect(canonicalColumn(' MAC address ')).toBe('macAddress');
    expect(canonicalColumn('ip_address')).toBe('ipAddress');
    expect(canonicalColumn('Disk-Policy')).toBe('diskPolicy');
    expect(canonicalColumn('nope')).toBeUndefined();
    expect([parseBool('Yes'), parseBool('0'), parseBool('x')]).toEqual([true, false, undefined]);
  });
});

describe('bulk batches and the API per-row errors', () => {
  it('splits into batches of at most 1000', () => {
    expect(batches(Array.from({ length: 2500 }, (_, i) => i)).map((b) => b.length)).toEqual([1000, 1000, 500]);
  });

  it('maps details.rows indexes of a batch to CSV lines, naming lines instead of batch rows', () => {
    const sent = [{ line: 2 }, { line: 3 }, { line: 7 }];
    const errs = bulkRowErrors({
      rows: [
        { index: 0, field: 'macAddress', message: 'macAddress must be a MAC address' },
        { index: 2, field: 'macAddress', message: 'MAC address aa:bb:cc:dd:ee:01 also appears in row 0' },
        { index: 2, field: 'bootMode', message: 'must be one of pxe, uefi, legacy' },
        { index: 9, field: 'x', message: 'out of range is ignored' },
        'junk',
      ],
    });
    const m = errorsByLine(errs, sent);
    expect([...m.keys()]).toEqual([2, 7]);
    expect(m.get(7)).toEqual(['MAC address aa:bb:cc:dd:ee:01 also appears in line 2', 'bootMode: must be one of pxe, uefi, legacy']);
    expect(bulkRowErrors(undefined)).toEqual([]);
    expect(rewriteRowReferences('row 5 and row 1', sent)).toBe('row 5 and line 3');
  });
});
