import {
  Alert,
  Autocomplete,
  Badge,
  Button,
  Code,
  Drawer,
  Group,
  Pagination,
  Paper,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  UnstyledButton,
  VisuallyHidden,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { useCan } from '../../auth/auth';
import { formatTime } from '../../lib/format';
import { AUDIT_PAGE_SIZE, auditQuery, EMPTY_FILTERS, nextSort, statusColor, type AuditFilters, type StatusClass } from './audit-query';

type Entry = Schemas['AuditLogDto'];

/** Coloured alert titles and dimmed input descriptions fall below WCAG AA contrast: darker text. */
const ALERT_STYLES = { title: { color: 'var(--mantine-color-dark-7)' } };
const INPUT_STYLES = { description: { color: 'var(--mantine-color-gray-7)' } };

/** Entity types the API records (the API path segment); free text is accepted too. */
const ENTITY_TYPES = [
  'auth',
  'clients',
  'client-groups',
  'images',
  'snapshots',
  'boot-sessions',
  'network-ranges',
  'wake-schedules',
  'users',
  'storage',
  'dhcp',
];

const STATUS_OPTIONS: { value: StatusClass; label: string }[] = [
  { value: 'all', label: 'All' },
  { value: '2xx', label: '2xx' },
  { value: '3xx', label: '3xx' },
  { value: '4xx', label: '4xx' },
  { value: '5xx', label: '5xx' },
  { value: 'errors', label: 'Errors' },
];

function SortHeader({ field, label, sort, onSort }: { field: string; label: string; sort: string; onSort: (s: string) => void }) {
  const dir = sort === field ? 'ascending' : sort === `-${field}` ? 'descending' : 'none';
  return (
    <Table.Th scope="col" aria-sort={dir}>
      <UnstyledButton onClick={() => onSort(nextSort(sort, field))} fw={700} fz="sm">
        {label} {dir === 'ascending' ? '▲' : dir === 'descending' ? '▼' : ''}
      </UnstyledButton>
    </Table.Th>
  );
}

function Detail({ entry, onClose }: { entry: Entry | null; onClose: () => void }) {
  return (
    <Drawer
      opened={!!entry}
      onClose={onClose}
      position="right"
      size="lg"
      title={entry ? `${entry.action}` : ''}
      closeButtonProps={{ 'aria-label': 'Close details' }}
    >
      {entry && (
        <Stack gap="xs" data-testid="audit-detail">
          <Text size="sm">
            <b>When:</b> {formatTime(entry.at)}
          </Text>
          <Text size="sm">
            <b>User:</b> {entry.username ?? 'system'} {entry.userId ? `(${entry.userId})` : ''}
          </Text>
          <Text size="sm">
            <b>Entity:</b> {entry.entityType} {entry.entityId ?? ''}
          </Text>
          <Text size="sm">
            <b>Status:</b> {entry.statusCode ?? '—'} · <b>From:</b> {entry.remoteAddress ?? '—'}
          </Text>
          <Text size="sm" fw={700}>
            Details
          </Text>
          <Code block>{entry.details ? JSON.stringify(entry.details, null, 2) : 'none'}</Code>
        </Stack>
      )}
    </Drawer>
  );
}

function AuditTable() {
  const [f, setF] = useState<AuditFilters>(EMPTY_FILTERS);
  const [selected, setSelected] = useState<Entry | null>(null);
  // Typed fields wait for a pause in typing; the rest apply at once.
  const [typed] = useDebouncedValue({ action: f.action, entityType: f.entityType, q: f.q }, 300);
  const params = auditQuery({ ...f, ...typed });
  const set = (patch: Partial<AuditFilters>) => setF((old) => ({ ...old, page: 1, ...patch }));

  const users = useQuery({
    queryKey: ['users', 'audit-filter'],
    queryFn: () => call(api.GET('/api/v1/users', { params: { query: { limit: 500 } } })),
  });
  const list = useQuery({
    queryKey: ['audit', params],
    queryFn: () => call(api.GET('/api/v1/audit', { params: { query: params } })),
    placeholderData: keepPreviousData,
  });
  const pages = Math.max(1, Math.ceil((list.data?.total ?? 0) / AUDIT_PAGE_SIZE));
  const filtered = JSON.stringify(f) !== JSON.stringify(EMPTY_FILTERS);

  return (
    <Stack gap="md">
      <Paper withBorder p="md">
        <Group align="flex-end" gap="sm" wrap="wrap">
          <TextInput
            label="Search"
            description="action or username prefix"
            styles={INPUT_STYLES}
            value={f.q}
            onChange={(e) => set({ q: e.currentTarget.value })}
            w={200}
          />
          <TextInput
            label="Action"
            description="exact, e.g. clients.create"
            styles={INPUT_STYLES}
            value={f.action}
            onChange={(e) => set({ action: e.currentTarget.value })}
            w={190}
          />
          <Autocomplete
            label="Entity type"
            description="exact"
            styles={INPUT_STYLES}
            data={ENTITY_TYPES}
            value={f.entityType}
            onChange={(v) => set({ entityType: v })}
            w={170}
          />
          <Select
            label="User"
            description="who acted"
            styles={INPUT_STYLES}
            placeholder="anyone"
            data={(users.data?.items ?? []).map((u) => ({ value: u.id, label: u.username }))}
            value={f.userId}
            onChange={(v) => set({ userId: v })}
            clearable
            searchable
            w={160}
          />
          <TextInput
            label="From"
            description="local time"
            styles={INPUT_STYLES}
            type="datetime-local"
            value={f.from}
            onChange={(e) => set({ from: e.currentTarget.value })}
            w={200}
          />
          <TextInput
            label="To"
            description="local time"
            styles={INPUT_STYLES}
            type="datetime-local"
            value={f.to}
            onChange={(e) => set({ to: e.currentTarget.value })}
            w={200}
          />
        </Group>
        <Group mt="sm" justify="space-between" align="flex-end">
          <div>
            <Text size="sm" fw={500} id="audit-status-label">
              Status
            </Text>
            <SegmentedControl
              aria-labelledby="audit-status-label"
              size="xs"
              data={STATUS_OPTIONS}
              value={f.status}
              onChange={(v) => set({ status: v as StatusClass })}
            />
          </div>
          <Button variant="subtle" size="xs" onClick={() => setF(EMPTY_FILTERS)} disabled={!filtered}>
            Clear filters
          </Button>
        </Group>
      </Paper>

      {list.error && (
        <Alert color="red" variant="light" styles={ALERT_STYLES} title="Could not load the audit log" data-testid="audit-error">
          {list.error.message}
        </Alert>
      )}

      <Group justify="space-between">
        <Text size="sm" data-testid="audit-total" aria-live="polite">
          {list.data ? `${list.data.total} entr${list.data.total === 1 ? 'y' : 'ies'}` : 'Loading…'}
        </Text>
        <Pagination
          total={pages}
          value={f.page}
          onChange={(page) => setF((old) => ({ ...old, page }))}
          size="sm"
          aria-label="Audit pages"
          getControlProps={(control) => ({ 'aria-label': `${control} page` })}
        />
      </Group>

      <Table striped highlightOnHover data-testid="audit-table" fz="sm">
        <Table.Thead>
          <Table.Tr>
            <SortHeader field="at" label="Time" sort={f.sort} onSort={(sort) => set({ sort })} />
            <SortHeader field="action" label="Action" sort={f.sort} onSort={(sort) => set({ sort })} />
            <SortHeader field="entityType" label="Entity" sort={f.sort} onSort={(sort) => set({ sort })} />
            <SortHeader field="username" label="User" sort={f.sort} onSort={(sort) => set({ sort })} />
            <SortHeader field="statusCode" label="Status" sort={f.sort} onSort={(sort) => set({ sort })} />
            <Table.Th scope="col">From</Table.Th>
            <Table.Th scope="col">
              <VisuallyHidden>Details</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.data?.items.map((r) => (
            <Table.Tr key={r.id} data-action={r.action}>
              <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(r.at)}</Table.Td>
              <Table.Td>{r.action}</Table.Td>
              <Table.Td>
                {r.entityType}
                {r.entityId && (
                  <Text span size="xs" c="gray.7" ml={4}>
                    {r.entityId.length > 12 ? `${r.entityId.slice(0, 8)}…` : r.entityId}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>{r.username ?? 'system'}</Table.Td>
              <Table.Td>
                {r.statusCode != null ? (
                  <Badge variant="light" color={statusColor(r.statusCode)} c="dark.7">
                    {r.statusCode}
                  </Badge>
                ) : (
                  '—'
                )}
              </Table.Td>
              <Table.Td>{r.remoteAddress ?? '—'}</Table.Td>
              <Table.Td>
                <Button size="compact-xs" variant="light" onClick={() => setSelected(r)} aria-label={`Details of ${r.action} at ${formatTime(r.at)}`}>
                  Details
                </Button>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {list.data?.items.length === 0 && (
        <Text size="sm" c="gray.7" data-testid="audit-empty">
          {filtered ? 'No entries match these filters.' : 'No entries yet.'}
        </Text>
      )}
      <Detail entry={selected} onClose={() => setSelected(null)} />
    </Stack>
  );
}

/** The audit log (admins only): every write through the API and every sign-in, filterable, newest first. */
export default function AuditPage() {
  const admin = useCan('admin');
  return (
    <Stack gap="md">
      <Title order={2}>Audit</Title>
      {admin ? (
        <AuditTable />
      ) : (
        <Alert color="orange" variant="light" styles={ALERT_STYLES} title="Admins only" data-testid="admins-only">
          The audit log is visible to administrators only. Ask an admin if you need to know who changed what.
        </Alert>
      )}
    </Stack>
  );
}
