import {
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Modal,
  NumberInput,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, ApiError, call, ifMatch, type Schemas } from '../../api/client';
import { Can } from '../../auth/auth';
import { useEvent } from '../../events/hooks';
import { formatAgo, formatTime } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { DiskPanel, IscsiPanel, SessionHistory } from './client-panels';
import { useImages, useNames, useSnapshots, type Client } from './queries';
import { ErrorAlert } from './error-alert';

type Source = Schemas['EffectiveValueDto']['source'];
type Update = Schemas['UpdateClientDto'];

const SOURCE_COLOR: Record<Source, string> = { client: 'indigo', group: 'grape', default: 'gray' };

function SourceBadge({ source, groupName }: { source: Source; groupName?: string }) {
  const text = source === 'client' ? 'own setting' : source === 'group' ? `group${groupName ? ` ${groupName}` : ''}` : 'default';
  return (
    <Badge variant="light" c="dark.8" color={SOURCE_COLOR[source]} data-testid="source-badge" data-source={source} style={{ textTransform: 'none' }}>
      {text}
    </Badge>
  );
}

/** One client: its state, its effective settings and where each comes from, its own settings, boots, disk, iSCSI. */
export default function ClientPage() {
  const { id = '' } = useParams();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const client = useQuery({
    queryKey: ['clients', id],
    queryFn: () => call(api.GET('/api/v1/clients/{id}', { params: { path: { id } } })),
    retry: (n, e) => !(e instanceof ApiError && (e.status === 404 || e.status === 400)) && n < 2,
  });
  // Boot-plane events for this client refresh what its boots change (the disk and its export).
  useEvent('boot-session', (e) => {
    if (e.body.clientId === id) void qc.invalidateQueries({ queryKey: ['clients', id] });
  });

  if (client.error) {
    return (
      <Stack>
        <Title order={2}>Client</Title>
        <ErrorAlert title={client.error instanceof ApiError && client.error.status === 404 ? 'No such client' : 'Could not load the client'}>
          {client.error.message}
        </ErrorAlert>
        <Anchor component={Link} to="/clients">
          All clients
        </Anchor>
      </Stack>
    );
  }
  if (!client.data) return <Text>Loading…</Text>;
  const c = client.data;

  return (
    <Stack>
      <Header client={c} onDeleted={() => void navigate('/clients')} />
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <EffectiveSettings client={c} />
        <DiskPanel clientId={c.id} hostname={c.hostname} />
      </SimpleGrid>
      <Can role="operator">
        <EditClient client={c} />
      </Can>
      <SessionHistory clientId={c.id} />
      <Can role="admin">
        <IscsiPanel clientId={c.id} />
      </Can>
    </Stack>
  );
}

function Header({ client: c, onDeleted }: { client: Client; onDeleted: () => void }) {
  const qc = useQueryClient();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const latest = useQuery({
    queryKey: ['boot-sessions', { clientId: c.id }],
    queryFn: () => call(api.GET('/api/v1/boot-sessions', { params: { query: { clientId: c.id, limit: 20, sort: '-startedAt' } } })),
  });
  const last = latest.data?.items[0];
  const refresh = () => void qc.invalidateQueries({ queryKey: ['clients'] });
  const toggle = useMutation({
    mutationFn: () =>
      call(
        api.PATCH('/api/v1/clients/{id}', { params: { path: { id: c.id }, header: ifMatch(c.version) }, body: { enabled: !c.enabled } as Update }),
      ),
    onSuccess: (r) => {
      notifyDone(`${r.hostname} ${r.enabled ? 'enabled' : 'disabled'}`);
      refresh();
    },
    onError: (e) => {
      notifyError(e, c.enabled ? 'Disable failed' : 'Enable failed');
      if (e instanceof ApiError && e.status === 412) refresh();
    },
  });
  const wake = useMutation({
    mutationFn: () => call(api.POST('/api/v1/clients/{id}/wake', { params: { path: { id: c.id } } })),
    onSuccess: () => notifyDone(`Wake-on-LAN sent to ${c.hostname}`),
    onError: (e) => notifyError(e, 'Wake failed'),
  });
  const remove = useMutation({
    mutationFn: () => call(api.DELETE('/api/v1/clients/{id}', { params: { path: { id: c.id } } })),
    onSuccess: () => {
      notifyDone(`${c.hostname} deleted`);
      qc.removeQueries({ queryKey: ['clients', c.id] });
      refresh();
      onDeleted();
    },
    onError: (e) => notifyError(e, 'Delete failed'),
  });

  return (
    <Paper withBorder p="md">
      <Group justify="space-between" align="flex-start">
        <Stack gap={4}>
          <Group gap="sm">
            <Anchor component={Link} to="/clients" size="sm">
              Clients
            </Anchor>
            <Text size="sm" c="gray.7">
              /
            </Text>
          </Group>
          <Title order={2} data-testid="client-hostname">
            {c.hostname}
          </Title>
          <Group gap="md">
            <Text size="sm">
              MAC <Code>{c.macAddress}</Code>
            </Text>
            <Text size="sm">
              IP <Code>{c.ipAddress ?? 'by DHCP'}</Code>
            </Text>
            <Badge variant="light" c="dark.8" color={c.enabled ? 'teal' : 'gray'} data-testid="client-enabled">
              {c.enabled ? 'enabled' : 'disabled'}
            </Badge>
            {c.pending && (
              <Badge variant="light" c="dark.8" color="orange">
                pending registration
              </Badge>
            )}
            {last && (
              <Badge
                c="dark.8"
                variant="light"
                color={last.status === 'error' ? 'red' : last.status === 'running' ? 'teal' : 'indigo'}
                data-testid="client-state"
              >
                {last.status}
              </Badge>
            )}
          </Group>
          <Text size="sm" c="gray.7">
            {c.bootCount} boots, last <span title={formatTime(c.lastBootAt)}>{formatAgo(c.lastBootAt)}</span> · {c.bootMode} · {c.cpuCores} CPU ·{' '}
            {c.memoryMb} MiB
          </Text>
        </Stack>
        <Can role="operator">
          <Group gap="xs">
            <Button variant="light" onClick={() => wake.mutate()} loading={wake.isPending}>
              Wake
            </Button>
            <Button variant="light" onClick={() => toggle.mutate()} loading={toggle.isPending}>
              {c.enabled ? 'Disable' : 'Enable'}
            </Button>
            <Button variant="default" c="red.9" onClick={() => setConfirmDelete(true)} loading={remove.isPending}>
              Delete
            </Button>
          </Group>
        </Can>
      </Group>
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={confirmDelete} onClose={() => setConfirmDelete(false)} title="Delete client">
        <Stack>
          <Text>Delete {c.hostname} and its disk? This cannot be undone.</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirmDelete(false)}>
              Cancel
            </Button>
            <Button
              color="red.9"
              onClick={() => {
                setConfirmDelete(false);
                remove.mutate();
              }}
            >
              Delete {c.hostname}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}

/** What the client boots with, each value with where it comes from (its own setting, its group, the default). */
function EffectiveSettings({ client: c }: { client: Client }) {
  const names = useNames();
  const images = useImages();
  const e = c.effective;
  const imageId = e.imageId.value ?? null;
  const versions = useSnapshots(imageId);
  const image = images.data?.find((i) => i.id === imageId);
  const groupName = c.groupId ? names.groups.get(c.groupId) : undefined;
  const pinned = e.pinnedSnapshotId.value ? versions.data?.find((v) => v.id === e.pinnedSnapshotId.value) : undefined;
  const published = versions.data?.find((v) => v.isPublished);
  const rows: { key: string; label: string; value: React.ReactNode; source: Source }[] = [
    {
      key: 'imageId',
      label: 'Image',
      value: imageId ? (
        <Anchor component={Link} to={`/images/${imageId}`}>
          {image?.name ?? imageId}
        </Anchor>
      ) : (
        'none (the client boots nothing)'
      ),
      source: e.imageId.source,
    },
    {
      key: 'pinnedSnapshotId',
      label: 'Version',
      value: e.pinnedSnapshotId.value
        ? `${pinned?.name ?? e.pinnedSnapshotId.value} (pinned)`
        : imageId
          ? `published${published ? `: ${published.name}` : ' (none yet)'}`
          : '—',
      source: e.pinnedSnapshotId.source,
    },
    {
      key: 'diskPolicy',
      label: 'Disk policy',
      value: e.diskPolicy.value ?? `the image's default${image ? ` (${image.defaultDiskPolicy})` : ''}`,
      source: e.diskPolicy.source,
    },
    { key: 'bootLoader', label: 'Boot loader', value: e.bootLoader.value ?? 'chosen by architecture', source: e.bootLoader.source },
    {
      key: 'secureBoot',
      label: 'Secure Boot',
      value: c.secureBoot ? 'on: UEFI boots shim → GRUB → signed kernel' : 'off',
      source: 'client',
    },
    {
      key: 'customBootParams',
      label: 'Boot parameters',
      value: e.customBootParams.value ? <Code>{e.customBootParams.value}</Code> : 'none',
      source: e.customBootParams.source,
    },
  ];
  return (
    <Paper withBorder p="md" data-testid="effective-settings">
      <Title order={3} size="h4" mb="sm">
        Effective settings
      </Title>
      <Text size="sm" c="gray.7" mb="xs">
        Group: {c.groupId ? (groupName ?? '…') : 'none'}
      </Text>
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Setting</Table.Th>
            <Table.Th>Value</Table.Th>
            <Table.Th>From</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r) => (
            <Table.Tr key={r.key} data-testid={`effective-${r.key}`}>
              <Table.Td>{r.label}</Table.Td>
              <Table.Td>{r.value}</Table.Td>
              <Table.Td>
                <SourceBadge source={r.source} groupName={r.source === 'group' ? groupName : undefined} />
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}

interface Form {
  hostname: string;
  macAddress: string;
  ipAddress: string;
  groupId: string;
  assignedImageId: string;
  pinnedSnapshotId: string;
  bootMode: string;
  diskPolicy: string;
  bootLoader: string;
  secureBoot: boolean;
  customBootParams: string;
  cpuCores: number;
  memoryMb: number;
}

const formOf = (c: Client): Form => ({
  hostname: c.hostname,
  macAddress: c.macAddress,
  ipAddress: c.ipAddress ?? '',
  groupId: c.groupId ?? '',
  assignedImageId: c.assignedImageId ?? '',
  pinnedSnapshotId: c.pinnedSnapshotId ?? '',
  bootMode: c.bootMode,
  diskPolicy: c.diskPolicy ?? '',
  bootLoader: c.bootLoader ?? '',
  secureBoot: c.secureBoot,
  customBootParams: c.customBootParams ?? '',
  cpuCores: c.cpuCores,
  memoryMb: c.memoryMb,
});

/** The changed fields only; '' means null (inherit / none). */
function diff(c: Client, f: Form): Record<string, unknown> {
  const before = formOf(c);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(f) as (keyof Form)[]) {
    if (f[k] === before[k]) continue;
    const v = f[k];
    out[k] = v === '' && k !== 'hostname' && k !== 'macAddress' ? null : v;
  }
  return out;
}

const INHERIT = { value: '', label: 'inherit (group / default)' };

/** The client's own settings (PATCH with If-Match: a stale page is told and reloaded, never overwrites). */
function EditClient({ client: c }: { client: Client }) {
  const qc = useQueryClient();
  const names = useNames();
  const [form, setForm] = useState<Form>(() => formOf(c));
  const [stale, setStale] = useState(false);
  /** the version the form edits: a newer one from elsewhere (a change event) replaces it unless the user is mid-edit */
  const [base, setBase] = useState<Client>(c);
  const changes = diff(base, form);
  const dirty = Object.keys(changes).length > 0;
  useEffect(() => {
    if (c.version !== base.version && !dirty) {
      setForm(formOf(c));
      setBase(c);
    }
  }, [c, base.version, dirty]);
  const versionsImage = form.assignedImageId || c.effective.imageId.value || null;
  const versions = useSnapshots(versionsImage);
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setForm((f) => ({ ...f, [k]: v }));

  const save = useMutation({
    mutationFn: () =>
      call(
        api.PATCH('/api/v1/clients/{id}', {
          params: { path: { id: c.id }, header: ifMatch(base.version) },
          body: changes as Update,
        }),
      ),
    onSuccess: (r) => {
      notifyDone(`${r.hostname} saved`);
      setStale(false);
      qc.setQueryData(['clients', c.id], r);
      setForm(formOf(r));
      setBase(r);
      void qc.invalidateQueries({ queryKey: ['clients'] });
    },
    onError: (e) => {
      if (e instanceof ApiError && e.status === 412) {
        setStale(true);
        void qc.invalidateQueries({ queryKey: ['clients', c.id] });
      } else notifyError(e, 'Save failed');
    },
  });
  const reload = () => {
    setForm(formOf(c));
    setBase(c);
    setStale(false);
  };

  return (
    <Paper withBorder p="md" component="form" onSubmit={(e: React.FormEvent) => (e.preventDefault(), save.mutate())} data-testid="edit-client">
      <Title order={3} size="h4" mb="sm">
        Own settings
      </Title>
      {stale && (
        <Alert color="indigo" title="This client was changed elsewhere" mb="sm" data-testid="stale-alert">
          <Text size="sm">Someone saved a newer version while you were editing; nothing of yours was written.</Text>
          <Button size="xs" mt="xs" onClick={reload}>
            Reload the current values
          </Button>
        </Alert>
      )}
      <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
        <TextInput label="Hostname" value={form.hostname} onChange={(e) => set('hostname', e.currentTarget.value)} required />
        <TextInput label="MAC address" value={form.macAddress} onChange={(e) => set('macAddress', e.currentTarget.value)} required />
        <TextInput
          label="IP address (DHCP reservation)"
          placeholder="none"
          value={form.ipAddress}
          onChange={(e) => set('ipAddress', e.currentTarget.value)}
        />
        <Select
          label="Group"
          data={[{ value: '', label: 'none' }, ...names.groupList.map((g) => ({ value: g.id, label: g.name }))]}
          value={form.groupId}
          onChange={(v) => set('groupId', v ?? '')}
          allowDeselect={false}
          searchable
        />
        <Select
          label="Image"
          data={[INHERIT, ...names.imageList.map((i) => ({ value: i.id, label: i.name }))]}
          value={form.assignedImageId}
          onChange={(v) => {
            set('assignedImageId', v ?? '');
            set('pinnedSnapshotId', '');
          }}
          allowDeselect={false}
          searchable
        />
        <Select
          label="Pinned version"
          data={[INHERIT, ...(versions.data ?? []).map((v) => ({ value: v.id, label: `${v.name}${v.isPublished ? ' (published)' : ''}` }))]}
          value={form.pinnedSnapshotId}
          onChange={(v) => set('pinnedSnapshotId', v ?? '')}
          allowDeselect={false}
        />
        <Select
          label="Disk policy"
          data={[INHERIT, { value: 'reset', label: 'reset at each boot' }, { value: 'persistent', label: 'persistent' }]}
          value={form.diskPolicy}
          onChange={(v) => set('diskPolicy', v ?? '')}
          allowDeselect={false}
        />
        <Select
          label="Boot loader"
          data={[INHERIT, ...['undionly.kpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi'].map((v) => ({ value: v, label: v }))]}
          value={form.bootLoader}
          onChange={(v) => set('bootLoader', v ?? '')}
          allowDeselect={false}
        />
        <Switch
          label="Secure Boot"
          description="UEFI gets Debian's signed shim → GRUB → kernel instead of iPXE"
          checked={form.secureBoot}
          onChange={(e) => set('secureBoot', e.currentTarget.checked)}
          mt="md"
        />
        <Select
          label="Boot mode"
          data={['pxe', 'uefi', 'legacy']}
          value={form.bootMode}
          onChange={(v) => set('bootMode', v ?? 'pxe')}
          allowDeselect={false}
        />
        <TextInput
          label="Boot parameters"
          placeholder="inherit"
          value={form.customBootParams}
          onChange={(e) => set('customBootParams', e.currentTarget.value)}
        />
        <NumberInput label="CPU cores" min={1} value={form.cpuCores} onChange={(v) => set('cpuCores', Number(v))} />
        <NumberInput label="Memory (MiB)" min={64} step={256} value={form.memoryMb} onChange={(v) => set('memoryMb', Number(v))} />
      </SimpleGrid>
      <Group justify="flex-end" mt="md">
        <Button variant="default" onClick={reload} disabled={!dirty}>
          Discard changes
        </Button>
        <Button type="submit" disabled={!dirty || stale} loading={save.isPending}>
          Save
        </Button>
      </Group>
    </Paper>
  );
}
