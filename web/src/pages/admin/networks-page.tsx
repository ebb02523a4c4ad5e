import {
  Alert,
  Badge,
  Button,
  Group,
  Loader,
  Modal,
  NumberInput,
  Progress,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useState } from 'react';
import { Link } from 'react-router';
import { api, call, ifMatch, type Schemas } from '../../api/client';
import { Can, useCan } from '../../auth/auth';
import { formatSeconds, formatTime } from '../../lib/format';
import { notifyDone } from '../../lib/notify';
import { EMPTY_RANGE_FORM, rangeBody, type RangeForm } from './admin-forms';
import { ConfirmDelete, FormAlert, StaleAlert, useFormErrors, useRecordSave } from './admin-ui';

type Range = Schemas['NetworkRangeResponseDto'];

const FIELDS = [
  'name',
  'cidr',
  'interface',
  'dhcpMode',
  'gateway',
  'poolStart',
  'poolEnd',
  'dnsServers',
  'leaseSeconds',
  'nextServer',
  'unknownClientPolicy',
  'enabled',
] as const;

const MODE_LABEL: Record<Range['dhcpMode'], string> = { full: 'full DHCP', proxy: 'proxyDHCP', off: 'off' };

function formOf(r: Range | null): RangeForm {
  if (!r) return EMPTY_RANGE_FORM;
  return {
    name: r.name,
    cidr: r.cidr,
    interface: r.interface ?? '',
    dhcpMode: r.dhcpMode,
    gateway: r.gateway ?? '',
    poolStart: r.poolStart ?? '',
    poolEnd: r.poolEnd ?? '',
    dnsServers: r.dnsServers.join(', '),
    leaseSeconds: r.leaseSeconds,
    nextServer: r.nextServer ?? '',
    unknownClientPolicy: r.unknownClientPolicy,
    enabled: r.enabled,
  };
}

/** The create/edit form. The API checks the range (CIDR, pool, gateway, overlaps); its messages appear by the field. */
function RangeModal({ range, onClose }: { range: Range | null; onClose: () => void }) {
  const [record, setRecord] = useState<Range | null>(range);
  const [form, setForm] = useState<RangeForm>(formOf(range));
  const errs = useFormErrors(FIELDS);
  const set = <K extends keyof RangeForm>(k: K, v: RangeForm[K]) => setForm((f) => ({ ...f, [k]: v }));

  const {
    busy,
    stale,
    submit: save,
  } = useRecordSave({
    queryKey: 'network-ranges',
    record,
    errs,
    create: () => call(api.POST('/api/v1/network-ranges', { body: rangeBody(form) })),
    update: (r) =>
      call(api.PATCH('/api/v1/network-ranges/{id}', { params: { path: { id: r.id }, header: ifMatch(r.version) }, body: rangeBody(form) })),
    reload: (r) => call(api.GET('/api/v1/network-ranges/{id}', { params: { path: { id: r.id } } })),
    onReloaded: (fresh) => {
      setRecord(fresh);
      setForm(formOf(fresh));
    },
    onSaved: onClose,
  });
  const submit = () => save(record ? `Range ${form.name.trim()} saved` : `Range ${form.name.trim()} created`);

  const text = (
    k: 'name' | 'cidr' | 'interface' | 'gateway' | 'poolStart' | 'poolEnd' | 'dnsServers' | 'nextServer',
    label: string,
    extra?: object,
  ) => <TextInput label={label} value={form[k]} onChange={(e) => set(k, e.currentTarget.value)} error={errs.field(k)} {...extra} />;

  return (
    <Modal
      closeButtonProps={{ 'aria-label': 'Close' }}
      opened
      onClose={onClose}
      title={record ? `Edit range ${record.name}` : 'New network range'}
      size="xl"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
        data-testid="range-form"
      >
        <Stack gap="sm">
          <StaleAlert show={stale} />
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            {text('name', 'Name', { required: true })}
            {text('cidr', 'Network (CIDR)', { required: true, placeholder: '192.168.50.0/24' })}
            {text('interface', 'Interface', { placeholder: 'eth1', description: 'where DHCP is served; none = not served' })}
            <Select
              label="DHCP mode"
              data={[
                { value: 'full', label: 'full DHCP (addresses + PXE)' },
                { value: 'proxy', label: 'proxyDHCP (PXE only; another server gives addresses)' },
                { value: 'off', label: 'off (not served)' },
              ]}
              value={form.dhcpMode}
              onChange={(v) => set('dhcpMode', (v ?? 'full') as RangeForm['dhcpMode'])}
              allowDeselect={false}
              error={errs.field('dhcpMode')}
            />
            {text('poolStart', 'Pool start', { placeholder: '192.168.50.100' })}
            {text('poolEnd', 'Pool end', { placeholder: '192.168.50.199' })}
            {text('gateway', 'Gateway', { placeholder: '192.168.50.1' })}
            {text('dnsServers', 'DNS servers', { placeholder: '192.168.50.1, 1.1.1.1', description: 'separated by commas' })}
            <NumberInput
              label="Lease time (seconds)"
              min={60}
              max={2_592_000}
              value={form.leaseSeconds}
              onChange={(v) => set('leaseSeconds', v)}
              error={errs.field('leaseSeconds')}
            />
            {text('nextServer', 'Boot server (next-server)', { placeholder: 'this server' })}
            <Select
              label="Unknown PCs"
              data={[
                { value: 'ignore', label: 'ignore' },
                { value: 'register', label: 'register (add as clients)' },
              ]}
              value={form.unknownClientPolicy}
              onChange={(v) => set('unknownClientPolicy', (v ?? 'ignore') as RangeForm['unknownClientPolicy'])}
              allowDeselect={false}
              error={errs.field('unknownClientPolicy')}
            />
            <Switch
              label="Enabled"
              mt="lg"
              checked={form.enabled}
              onChange={(e) => set('enabled', e.currentTarget.checked)}
              error={errs.field('enabled')}
            />
          </SimpleGrid>
          <FormAlert errors={errs.errors} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              {record ? 'Save' : 'Create'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Pool use as a bar (live: DHCP events invalidate ['utilisation']). */
function Utilisation({ rangeId }: { rangeId: string }) {
  const q = useQuery({
    queryKey: ['utilisation', rangeId],
    queryFn: () => call(api.GET('/api/v1/network-ranges/{id}/utilisation', { params: { path: { id: rangeId } } })),
  });
  if (q.error) return <Text size="xs">{q.error.message}</Text>;
  if (!q.data) return <Text size="xs">…</Text>;
  const u = q.data;
  if (u.size === 0) return <Text size="xs">no pool</Text>;
  const pct = (n: number) => (n / u.size) * 100;
  return (
    <Stack gap={2} miw={140} data-testid="utilisation" data-in-use={u.inUse} data-size={u.size}>
      <Progress.Root size="md">
        <Progress.Section value={pct(u.inUse)} color="blue.8" aria-label={`In use: ${u.inUse} of ${u.size}`} />
        <Progress.Section value={pct(u.quarantined)} color="orange.8" aria-label={`Quarantined: ${u.quarantined} of ${u.size}`} />
      </Progress.Root>
      <Text size="xs">
        {u.inUse} in use / {u.size}
        {u.quarantined ? `, ${u.quarantined} quarantined` : ''}, {u.free} free
      </Text>
    </Stack>
  );
}

const STATE_COLOR: Record<Schemas['LeaseDto']['state'], string> = { offered: 'orange.9', bound: 'indigo.8', declined: 'red.9', released: 'gray.8' };

/** The range's leases (live: DHCP events invalidate ['leases']). */
function Leases({ rangeId }: { rangeId: string }) {
  const q = useQuery({
    queryKey: ['leases', rangeId],
    queryFn: () => call(api.GET('/api/v1/network-ranges/{id}/leases', { params: { path: { id: rangeId }, query: { limit: 500 } } })),
  });
  if (q.error)
    return (
      <Alert variant="outline" color="red.9">
        {q.error.message}
      </Alert>
    );
  if (!q.data) return <Loader size="sm" aria-label="Loading leases" />;
  if (q.data.items.length === 0)
    return (
      <Text size="sm" data-testid="no-leases">
        No leases.
      </Text>
    );
  return (
    <Table data-testid="leases-table" withTableBorder>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Address</Table.Th>
          <Table.Th>MAC</Table.Th>
          <Table.Th>Client</Table.Th>
          <Table.Th>State</Table.Th>
          <Table.Th>Expires</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {q.data.items.map((l) => (
          <Table.Tr key={`${l.address}-${l.macAddress}`}>
            <Table.Td>{l.address}</Table.Td>
            <Table.Td>{l.macAddress}</Table.Td>
            <Table.Td>
              {l.clientId ? <Link to={`/clients/${l.clientId}`}>{l.hostname ?? l.clientId.slice(0, 8)}</Link> : (l.hostname ?? '—')}
            </Table.Td>
            <Table.Td>
              <Badge variant="outline" color={STATE_COLOR[l.state]}>
                {l.state}
                {l.active ? '' : ' (expired)'}
              </Badge>
            </Table.Td>
            <Table.Td>{formatTime(l.expiresAt)}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
      {q.data.total > q.data.items.length && (
        <Table.Caption>
          {q.data.items.length} of {q.data.total} shown
        </Table.Caption>
      )}
    </Table>
  );
}

export default function NetworksPage() {
  const qc = useQueryClient();
  const canWrite = useCan('admin');
  const ranges = useQuery({
    queryKey: ['network-ranges', 'list'],
    queryFn: () => call(api.GET('/api/v1/network-ranges', { params: { query: { limit: 500 } } })),
  });
  const [editing, setEditing] = useState<{ range: Range | null; key: number } | null>(null);
  const [deleting, setDeleting] = useState<Range | null>(null);
  const [open, setOpen] = useState<Set<string>>(new Set());
  const toggle = (id: string) =>
    setOpen((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const columns = canWrite ? 10 : 9;

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Networks</Title>
        <Can role="admin">
          <Button onClick={() => setEditing({ range: null, key: Date.now() })}>New range</Button>
        </Can>
      </Group>
      {ranges.error && (
        <Alert variant="outline" color="red.9" title="Could not load network ranges">
          {ranges.error.message}
        </Alert>
      )}
      {ranges.isPending && <Loader aria-label="Loading network ranges" />}
      {ranges.data && ranges.data.items.length === 0 && <Text>No network ranges yet.</Text>}
      {ranges.data && ranges.data.items.length > 0 && (
        <Table.ScrollContainer minWidth={1100}>
          <Table data-testid="ranges-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Interface</Table.Th>
                <Table.Th>Network</Table.Th>
                <Table.Th>Mode</Table.Th>
                <Table.Th>Pool</Table.Th>
                <Table.Th>Gateway / DNS</Table.Th>
                <Table.Th>Lease</Table.Th>
                <Table.Th>Utilisation</Table.Th>
                <Table.Th>Leases</Table.Th>
                {canWrite && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {ranges.data.items.map((r) => (
                <Fragment key={r.id}>
                  <Table.Tr data-testid={`range-row-${r.name}`}>
                    <Table.Td>
                      <Text fw={600} size="sm">
                        {r.name}
                      </Text>
                      <Group gap={4}>
                        {!r.enabled && (
                          <Badge variant="outline" color="gray.8">
                            disabled
                          </Badge>
                        )}
                        {r.unknownClientPolicy === 'register' && (
                          <Badge variant="light" color="indigo">
                            registers unknown PCs
                          </Badge>
                        )}
                      </Group>
                    </Table.Td>
                    <Table.Td>{r.interface ?? '—'}</Table.Td>
                    <Table.Td>{r.cidr}</Table.Td>
                    <Table.Td>{MODE_LABEL[r.dhcpMode]}</Table.Td>
                    <Table.Td>{r.poolStart && r.poolEnd ? `${r.poolStart} – ${r.poolEnd}` : '—'}</Table.Td>
                    <Table.Td>
                      <Text size="sm">{r.gateway ?? '—'}</Text>
                      <Text size="xs">{r.dnsServers.length ? `DNS ${r.dnsServers.join(', ')}` : 'no DNS'}</Text>
                    </Table.Td>
                    <Table.Td>{formatSeconds(r.leaseSeconds)}</Table.Td>
                    <Table.Td>
                      <Utilisation rangeId={r.id} />
                    </Table.Td>
                    <Table.Td>
                      <Button
                        size="xs"
                        variant="subtle"
                        aria-expanded={open.has(r.id)}
                        onClick={() => toggle(r.id)}
                        aria-label={`Leases of ${r.name}`}
                      >
                        {open.has(r.id) ? 'Hide' : 'Show'}
                      </Button>
                    </Table.Td>
                    {canWrite && (
                      <Table.Td>
                        <Group gap="xs" wrap="nowrap">
                          <Button size="xs" variant="default" onClick={() => setEditing({ range: r, key: Date.now() })} aria-label={`Edit ${r.name}`}>
                            Edit
                          </Button>
                          <Button size="xs" variant="outline" color="red.9" onClick={() => setDeleting(r)} aria-label={`Delete ${r.name}`}>
                            Delete
                          </Button>
                        </Group>
                      </Table.Td>
                    )}
                  </Table.Tr>
                  {open.has(r.id) && (
                    <Table.Tr>
                      <Table.Td colSpan={columns}>
                        <Leases rangeId={r.id} />
                      </Table.Td>
                    </Table.Tr>
                  )}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {editing && <RangeModal key={editing.key} range={editing.range} onClose={() => setEditing(null)} />}
      <ConfirmDelete
        what={`range ${deleting?.name ?? ''}`}
        opened={!!deleting}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/network-ranges/{id}', { params: { path: { id: deleting!.id } } }));
          notifyDone(`Range ${deleting!.name} deleted`);
          void qc.invalidateQueries({ queryKey: ['network-ranges'] });
        }}
      >
        <Text size="sm">DHCP stops serving this range.</Text>
      </ConfirmDelete>
    </Stack>
  );
}
