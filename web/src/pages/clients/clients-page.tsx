import { Anchor, Badge, Button, Checkbox, Group, Loader, Select, Stack, Switch, Table, Text, TextInput, Title, VisuallyHidden } from '@mantine/core';
import { createColumnHelper, flexRender, getCoreRowModel, useReactTable, type SortingState } from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useMemo, useRef, useState } from 'react';
import { Link } from 'react-router';
import { Can, useCan } from '../../auth/auth';
import { formatAgo, formatTime } from '../../lib/format';
import { BulkActionBar } from './bulk-actions';
import {
  effectiveDiskPolicy,
  effectiveImageId,
  filterIndex,
  indexClients,
  NO_FILTER,
  sortIndex,
  type ClientFilter,
  type PendingFilter,
  type SortKey,
} from './client-filter';
import { CsvImportButton } from './csv-import-modal';
import { useAllClients, useNames, type Client } from './queries';
import { ErrorAlert } from './error-alert';

const ROW_HEIGHT = 37;
const col = createColumnHelper<Client>();

/**
 * All clients in one virtualised table: filtered and sorted in memory (client-filter.ts) so a keystroke updates the
 * rows at once; selection and bulk actions for operators; CSV import.
 */
export default function ClientsPage() {
  const clients = useAllClients();
  const names = useNames();
  const canWrite = useCan('operator');
  const [filter, setFilter] = useState<ClientFilter>(NO_FILTER);
  const [sorting, setSorting] = useState<SortingState>([{ id: 'hostname', desc: false }]);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());

  // Derivations by cost: the index when data or names change, the order when the sort changes, the filter per keystroke.
  const index = useMemo(() => indexClients(clients.data ?? [], names), [clients.data, names]);
  const sorted = useMemo(() => sortIndex(index, sorting[0] ? { id: sorting[0].id as SortKey, desc: sorting[0].desc } : null), [index, sorting]);
  const rows = useMemo(() => filterIndex(sorted, filter), [sorted, filter]);
  const total = clients.data?.length ?? 0;
  // Selection never holds clients that are gone (deleted by anyone).
  const liveSelected = useMemo(() => {
    if (selected.size === 0) return selected;
    const ids = new Set((clients.data ?? []).map((c) => c.id));
    return new Set([...selected].filter((id) => ids.has(id)));
  }, [selected, clients.data]);

  const toggle = (id: string, on: boolean) =>
    setSelected((s) => {
      const n = new Set(s);
      if (on) n.add(id);
      else n.delete(id);
      return n;
    });
  const allFilteredSelected = rows.length > 0 && rows.every((r) => liveSelected.has(r.id));
  const someFilteredSelected = liveSelected.size > 0 && !allFilteredSelected && rows.some((r) => liveSelected.has(r.id));
  const selectAllFiltered = (on: boolean) =>
    setSelected((s) => {
      const n = new Set(s);
      for (const r of rows) {
        if (on) n.add(r.id);
        else n.delete(r.id);
      }
      return n;
    });

  const columns = useMemo(
    () => [
      ...(canWrite
        ? [
            col.display({
              id: 'select',
              header: () => null,
              cell: ({ row }) => (
                <Checkbox
                  aria-label={`Select ${row.original.hostname}`}
                  checked={liveSelected.has(row.original.id)}
                  onChange={(e) => toggle(row.original.id, e.currentTarget.checked)}
                />
              ),
            }),
          ]
        : []),
      col.accessor('hostname', {
        header: 'Hostname',
        cell: (c) => (
          <Anchor component={Link} to={`/clients/${c.row.original.id}`}>
            {c.getValue()}
          </Anchor>
        ),
      }),
      col.accessor('macAddress', {
        header: 'MAC',
        cell: (c) => (
          <Text ff="monospace" size="sm">
            {c.getValue()}
          </Text>
        ),
      }),
      col.accessor('ipAddress', { header: 'IP', cell: (c) => c.getValue() ?? '—' }),
      col.accessor('groupId', { id: 'group', header: 'Group', cell: (c) => (c.getValue() ? (names.groups.get(c.getValue()!) ?? '…') : '—') }),
      col.accessor(effectiveImageId, {
        id: 'image',
        header: 'Image',
        cell: (c) => {
          const id = c.getValue();
          if (!id) return '—';
          const source = c.row.original.effective.imageId.source;
          return (
            <span>
              {names.images.get(id) ?? '…'}
              {source === 'group' && (
                <Text span size="xs" c="gray.7">
                  {' '}
                  (group)
                </Text>
              )}
            </span>
          );
        },
      }),
      col.accessor('enabled', {
        header: 'Enabled',
        cell: (c) => (
          <Badge variant="light" c="dark.8" color={c.getValue() ? 'teal' : 'gray'}>
            {c.getValue() ? 'yes' : 'no'}
          </Badge>
        ),
      }),
      col.accessor('pending', {
        header: 'Pending',
        cell: (c) =>
          c.getValue() ? (
            <Badge variant="light" c="dark.8" color="orange">
              pending
            </Badge>
          ) : (
            '—'
          ),
      }),
      col.accessor(effectiveDiskPolicy, { id: 'diskPolicy', header: 'Disk policy', cell: (c) => c.getValue() ?? 'default' }),
      col.accessor('lastBootAt', {
        header: 'Last boot',
        cell: (c) => <span title={formatTime(c.getValue())}>{formatAgo(c.getValue())}</span>,
      }),
      col.accessor('bootCount', { header: 'Boots' }),
    ],
    [canWrite, names, liveSelected],
  );

  // The virtualiser needs only the row count; the table gets just the rows on screen, so a keystroke that leaves
  // 10,000 rows matching builds ~40 row models, not 10,000.
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });
  const items = virtual.getVirtualItems();
  const first = items.length ? items[0].index : 0;
  const visible = useMemo(() => rows.slice(first, first + items.length), [rows, first, items.length]);
  const padTop = items.length ? items[0].start : 0;
  const padBottom = items.length ? virtual.getTotalSize() - items[items.length - 1].end : 0;

  const table = useReactTable({
    data: visible,
    columns,
    state: { sorting },
    onSortingChange: setSorting,
    manualSorting: true,
    enableSortingRemoval: false,
    sortDescFirst: false,
    getRowId: (c) => c.id,
    getCoreRowModel: getCoreRowModel(),
  });
  const tableRows = table.getRowModel().rows;
  const colCount = table.getVisibleLeafColumns().length;

  const imageOptions = [{ value: 'none', label: '(no image)' }, ...names.imageList.map((i) => ({ value: i.id, label: i.name }))];
  const groupOptions = [{ value: 'none', label: '(no group)' }, ...names.groupList.map((g) => ({ value: g.id, label: g.name }))];

  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={2}>Clients</Title>
        <Can role="operator">
          <CsvImportButton />
        </Can>
      </Group>

      <Group align="flex-end" gap="sm">
        <TextInput
          label="Search"
          placeholder="hostname, MAC or image prefix"
          value={filter.q}
          onChange={(e) => {
            const q = e.currentTarget.value;
            setFilter((f) => ({ ...f, q }));
          }}
          w={260}
        />
        <Select
          label="Group"
          placeholder="any"
          data={groupOptions}
          value={filter.groupId}
          onChange={(v) => setFilter((f) => ({ ...f, groupId: v }))}
          clearable
          searchable
          w={180}
        />
        <Select
          label="Image"
          placeholder="any"
          data={imageOptions}
          value={filter.imageId}
          onChange={(v) => setFilter((f) => ({ ...f, imageId: v }))}
          clearable
          searchable
          w={180}
        />
        <Select
          label="Registration"
          data={[
            { value: 'any', label: 'any' },
            { value: 'pending', label: 'pending only' },
            { value: 'registered', label: 'registered only' },
          ]}
          value={filter.pending}
          onChange={(v) => setFilter((f) => ({ ...f, pending: (v ?? 'any') as PendingFilter }))}
          allowDeselect={false}
          w={160}
        />
        <Switch
          label="Enabled only"
          checked={filter.enabledOnly}
          onChange={(e) => setFilter((f) => ({ ...f, enabledOnly: e.currentTarget.checked }))}
          mb={8}
        />
        <Text size="sm" c="gray.7" mb={8} data-testid="clients-count" data-count={rows.length} aria-live="polite">
          {rows.length} of {total} clients
        </Text>
      </Group>

      <Can role="operator">
        <Group gap="sm">
          <Checkbox
            label={`Select all ${rows.length} shown`}
            checked={allFilteredSelected}
            indeterminate={someFilteredSelected}
            disabled={rows.length === 0}
            onChange={(e) => selectAllFiltered(e.currentTarget.checked)}
          />
          {liveSelected.size > 0 && (
            <BulkActionBar
              selected={liveSelected}
              clients={clients.data ?? []}
              onDone={(keep) => !keep && setSelected(new Set())}
              onClear={() => setSelected(new Set())}
            />
          )}
        </Group>
      </Can>

      {clients.error && <ErrorAlert title="Could not load the clients">{clients.error.message}</ErrorAlert>}

      <div
        ref={scrollRef}
        style={{ height: 'calc(100vh - 300px)', minHeight: 320, overflow: 'auto' }}
        data-testid="clients-scroll"
        tabIndex={0}
        aria-label="Clients table"
      >
        <Table striped highlightOnHover stickyHeader verticalSpacing={6} style={{ tableLayout: 'fixed' }}>
          <Table.Thead>
            {table.getHeaderGroups().map((hg) => (
              <Table.Tr key={hg.id}>
                {hg.headers.map((h) => {
                  const sorted = h.column.getIsSorted();
                  const width = h.column.id === 'select' ? 44 : h.column.id === 'macAddress' ? 170 : undefined;
                  return (
                    <Table.Th key={h.id} style={{ width }} aria-sort={sorted ? (sorted === 'asc' ? 'ascending' : 'descending') : undefined}>
                      {h.column.id === 'select' ? (
                        <VisuallyHidden>Selected</VisuallyHidden>
                      ) : (
                        <Button
                          variant="subtle"
                          size="compact-sm"
                          px={4}
                          onClick={h.column.getToggleSortingHandler()}
                          data-testid={`sort-${h.column.id}`}
                        >
                          {flexRender(h.column.columnDef.header, h.getContext())}
                          {sorted === 'asc' ? ' ▲' : sorted === 'desc' ? ' ▼' : ''}
                        </Button>
                      )}
                    </Table.Th>
                  );
                })}
              </Table.Tr>
            ))}
          </Table.Thead>
          <Table.Tbody>
            {padTop > 0 && (
              <tr aria-hidden>
                <td colSpan={colCount} style={{ height: padTop, padding: 0 }} />
              </tr>
            )}
            {items.map((vi) => {
              const row = tableRows[vi.index - first];
              if (!row) return null;
              return (
                <Table.Tr key={row.id} style={{ height: ROW_HEIGHT }} data-testid="client-row" data-hostname={row.original.hostname}>
                  {row.getVisibleCells().map((cell) => (
                    <Table.Td key={cell.id} style={{ whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' }}>
                      {flexRender(cell.column.columnDef.cell, cell.getContext())}
                    </Table.Td>
                  ))}
                </Table.Tr>
              );
            })}
            {padBottom > 0 && (
              <tr aria-hidden>
                <td colSpan={colCount} style={{ height: padBottom, padding: 0 }} />
              </tr>
            )}
          </Table.Tbody>
        </Table>
        {clients.isPending && (
          <Group justify="center" p="md">
            <Loader aria-label="Loading clients" />
          </Group>
        )}
        {clients.data && rows.length === 0 && (
          <Text c="gray.7" p="md">
            {total === 0 ? 'No clients yet.' : 'No client matches the filters.'}
          </Text>
        )}
      </div>
    </Stack>
  );
}
