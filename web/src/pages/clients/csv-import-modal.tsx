import { Badge, Button, FileInput, Group, Modal, ScrollArea, Stack, Table, Text, Textarea } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api, ApiError, call } from '../../api/client';
import { notifyDone, notifyError } from '../../lib/notify';
import { batches, bulkRowErrors, errorsByLine, parseClientsCsv, type CreateClient, type CsvRow } from './csv-import';
import { useNames } from './queries';
import { ErrorAlert } from './error-alert';

const SAMPLE = 'macAddress,hostname,ipAddress,group,enabled\n52:54:00:12:34:56,pc-01,192.168.50.21,room-a,true';

/** "Import CSV": paste or choose a file, preview the rows, register them in batches of 1000 (each all or nothing). */
export function CsvImportButton() {
  const [opened, setOpened] = useState(false);
  return (
    <>
      <Button onClick={() => setOpened(true)}>Import CSV</Button>
      <Modal
        closeButtonProps={{ 'aria-label': 'Close' }}
        opened={opened}
        onClose={() => setOpened(false)}
        title="Import clients from CSV"
        size="80rem"
      >
        {opened && <CsvImport onClose={() => setOpened(false)} />}
      </Modal>
    </>
  );
}

function CsvImport({ onClose }: { onClose: () => void }) {
  const qc = useQueryClient();
  const names = useNames();
  const [text, setText] = useState('');
  const [file, setFile] = useState<File | null>(null);
  /** API errors per CSV line, from the last attempt */
  const [apiErrors, setApiErrors] = useState<Map<number, string[]>>(new Map());
  const [batchError, setBatchError] = useState<string | null>(null);
  /** lines already registered (an earlier batch that went through): not sent again */
  const [imported, setImported] = useState<ReadonlySet<number>>(new Set());
  const [busy, setBusy] = useState(false);

  const lookups = useMemo(
    () => ({
      groups: new Map(names.groupList.map((g) => [g.name.toLowerCase(), g.id])),
      images: new Map(names.imageList.map((i) => [i.name.toLowerCase(), i.id])),
    }),
    [names],
  );
  const parsed = useMemo(() => (text.trim() ? parseClientsCsv(text, lookups) : null), [text, lookups]);
  const toSend = (parsed?.rows ?? []).filter((r) => !imported.has(r.line));
  const localProblems = toSend.filter((r) => r.problems.length > 0).length;
  const canImport = !!parsed && !parsed.fatal && toSend.length > 0 && localProblems === 0 && !busy;

  const load = async (f: File | null) => {
    setFile(f);
    if (f) {
      setText(await f.text());
      setApiErrors(new Map());
      setBatchError(null);
      setImported(new Set());
    }
  };

  const importRows = async () => {
    setBusy(true);
    setApiErrors(new Map());
    setBatchError(null);
    const done = new Set(imported);
    let created = 0;
    try {
      for (const batch of batches(toSend)) {
        try {
          await call(api.POST('/api/v1/clients/bulk', { body: batch.map((r) => r.dto as CreateClient) }));
          batch.forEach((r) => done.add(r.line));
          created += batch.length;
        } catch (e) {
          const rowErrors = e instanceof ApiError ? bulkRowErrors(e.details) : [];
          setApiErrors(errorsByLine(rowErrors, batch));
          const from = batch[0].line;
          const to = batch[batch.length - 1].line;
          setBatchError(
            `${e instanceof ApiError ? `${e.status} ${e.code}: ` : ''}${(e as Error).message} (lines ${from}–${to}; nothing from these lines was registered${created ? `; ${created} clients from earlier lines were` : ''})`,
          );
          if (!rowErrors.length) notifyError(e, 'Import failed');
          return;
        }
      }
      notifyDone(`Registered ${created} clients`);
      onClose();
    } finally {
      setImported(done);
      setBusy(false);
      if (created) void qc.invalidateQueries({ queryKey: ['clients'] });
    }
  };

  const problemsOf = (r: CsvRow) => [...r.problems, ...(apiErrors.get(r.line) ?? [])];
  const shown = parsed?.rows.slice(0, 500) ?? [];

  return (
    <Stack>
      <Text size="sm">
        A header row, then one client per line. Columns: <b>macAddress</b>, <b>hostname</b> (required); optional ipAddress, group (name) or groupId,
        image (name) or assignedImageId, bootMode, diskPolicy, enabled, cpuCores, memoryMb, customBootParams, bootLoader.
      </Text>
      <FileInput label="CSV file" accept=".csv,text/csv" value={file} onChange={(f) => void load(f)} clearable />
      <Textarea
        label="CSV text (or paste it here; edit it to fix a line and import again)"
        placeholder={SAMPLE}
        autosize
        minRows={4}
        maxRows={12}
        value={text}
        onChange={(e) => {
          setText(e.currentTarget.value);
          setApiErrors(new Map());
        }}
        styles={{ input: { fontFamily: 'monospace' } }}
      />
      {parsed?.fatal && <ErrorAlert title="This CSV cannot be imported">{parsed.fatal}</ErrorAlert>}
      {batchError && (
        <ErrorAlert title="The API refused the import" data-testid="csv-batch-error">
          {batchError}
        </ErrorAlert>
      )}
      {parsed && !parsed.fatal && (
        <>
          <Text size="sm" data-testid="csv-summary">
            {parsed.rows.length} rows
            {imported.size ? `, ${imported.size} already registered` : ''}
            {localProblems ? `, ${localProblems} with problems to fix first` : ''}
            {apiErrors.size ? `, ${apiErrors.size} refused by the API` : ''}
          </Text>
          <ScrollArea.Autosize mah={360}>
            <Table striped withTableBorder data-testid="csv-preview">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Line</Table.Th>
                  {parsed.columns.map((c) => (
                    <Table.Th key={c}>{c}</Table.Th>
                  ))}
                  <Table.Th>Status</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {shown.map((r) => {
                  const problems = problemsOf(r);
                  return (
                    <Table.Tr key={r.line} data-testid="csv-row" data-line={r.line} bg={problems.length ? 'red.0' : undefined}>
                      <Table.Td>{r.line}</Table.Td>
                      {parsed.columns.map((c) => (
                        <Table.Td key={c}>{r.cells[c]}</Table.Td>
                      ))}
                      <Table.Td>
                        {imported.has(r.line) ? (
                          <Badge variant="light" c="dark.8" color="teal">
                            registered
                          </Badge>
                        ) : problems.length ? (
                          <Text size="sm" c="red.9" data-testid="csv-row-error">
                            {problems.join('; ')}
                          </Text>
                        ) : (
                          <Text size="sm">ok</Text>
                        )}
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
              </Table.Tbody>
            </Table>
          </ScrollArea.Autosize>
          {parsed.rows.length > shown.length && (
            <Text size="sm" c="gray.7">
              Showing the first {shown.length} of {parsed.rows.length} rows.
            </Text>
          )}
        </>
      )}
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose}>
          Close
        </Button>
        <Button onClick={() => void importRows()} disabled={!canImport} loading={busy}>
          Import {toSend.length} clients
        </Button>
      </Group>
    </Stack>
  );
}
