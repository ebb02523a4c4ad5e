import { Alert, Anchor, Badge, Button, Group, Loader, Modal, Select, Stack, Table, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, call, ifMatch, type Schemas } from '../../api/client';
import { Can, useCan } from '../../auth/auth';
import { notifyDone, notifyError } from '../../lib/notify';
import { blankToNull } from './admin-forms';
import { ConfirmDelete, FormAlert, StaleAlert, useFormErrors, useRecordSave } from './admin-ui';

type ClientGroup = Schemas['ClientGroupResponseDto'];
type GroupWake = Schemas['GroupWakeResponseDto'];

const BOOT_LOADERS = ['undionly.kpxe', 'ipxe.pxe', 'ipxe.efi', 'snponly.efi'] as const;
const FIELDS = ['name', 'description', 'imageId', 'pinnedSnapshotId', 'diskPolicy', 'bootLoader', 'bootParams', 'defaultForRangeId'] as const;
/** Form value of an unset id (Mantine Selects hold strings). */
const DEFAULT = '';
/** Select option meaning "null: inherit" for disk policy and boot loader. */
const INHERIT = 'inherit';

interface GroupForm {
  name: string;
  description: string;
  imageId: string;
  pinnedSnapshotId: string;
  diskPolicy: string;
  bootLoader: string;
  bootParams: string;
  defaultForRangeId: string;
}

function formOf(g: ClientGroup | null): GroupForm {
  return {
    name: g?.name ?? '',
    description: g?.description ?? '',
    imageId: g?.imageId ?? DEFAULT,
    pinnedSnapshotId: g?.pinnedSnapshotId ?? DEFAULT,
    diskPolicy: g?.diskPolicy ?? INHERIT,
    bootLoader: g?.bootLoader ?? INHERIT,
    bootParams: g?.bootParams ?? '',
    defaultForRangeId: g?.defaultForRangeId ?? DEFAULT,
  };
}

function bodyOf(f: GroupForm) {
  return {
    name: f.name.trim(),
    description: blankToNull(f.description),
    imageId: f.imageId || null,
    pinnedSnapshotId: f.imageId ? f.pinnedSnapshotId || null : null,
    diskPolicy: (f.diskPolicy === INHERIT ? null : f.diskPolicy) as ClientGroup['diskPolicy'],
    bootLoader: (f.bootLoader === INHERIT ? null : f.bootLoader) as ClientGroup['bootLoader'],
    bootParams: blankToNull(f.bootParams),
    defaultForRangeId: f.defaultForRangeId || null,
  };
}

function useImages() {
  return useQuery({
    queryKey: ['images', 'all'],
    queryFn: () => call(api.GET('/api/v1/images', { params: { query: { limit: 500, sort: 'name' } } })),
  });
}

function useRanges() {
  return useQuery({
    queryKey: ['network-ranges', 'all'],
    queryFn: () => call(api.GET('/api/v1/network-ranges', { params: { query: { limit: 500 } } })),
  });
}

/** Members of a group: the clients list's total for that group (the group DTO carries no count). */
function MemberCount({ groupId }: { groupId: string }) {
  const q = useQuery({
    queryKey: ['clients', 'count', { groupId }],
    queryFn: () => call(api.GET('/api/v1/clients', { params: { query: { groupId, limit: 1 } } })),
  });
  if (!q.data) return <Text size="sm">…</Text>;
  return (
    <Anchor component={Link} to={`/clients?groupId=${groupId}`} size="sm" data-testid="member-count">
      {q.data.total} {q.data.total === 1 ? 'client' : 'clients'}
    </Anchor>
  );
}

function GroupModal({ group, opened, onClose }: { group: ClientGroup | null; opened: boolean; onClose: () => void }) {
  const [record, setRecord] = useState<ClientGroup | null>(group);
  const [form, setForm] = useState<GroupForm>(formOf(group));
  const errs = useFormErrors(FIELDS);
  const images = useImages();
  const ranges = useRanges();
  const snapshots = useQuery({
    queryKey: ['snapshots', form.imageId],
    enabled: !!form.imageId,
    queryFn: () => call(api.GET('/api/v1/images/{imageId}/snapshots', { params: { path: { imageId: form.imageId }, query: { limit: 500 } } })),
  });
  const set = <K extends keyof GroupForm>(k: K, v: GroupForm[K]) => setForm((f) => ({ ...f, [k]: v }));

  const {
    busy,
    stale,
    submit: save,
  } = useRecordSave({
    queryKey: 'client-groups',
    record,
    errs,
    create: () => call(api.POST('/api/v1/client-groups', { body: bodyOf(form) })),
    update: (r) => call(api.PATCH('/api/v1/client-groups/{id}', { params: { path: { id: r.id }, header: ifMatch(r.version) }, body: bodyOf(form) })),
    reload: (r) => call(api.GET('/api/v1/client-groups/{id}', { params: { path: { id: r.id } } })),
    onReloaded: (fresh) => {
      setRecord(fresh);
      setForm(formOf(fresh));
    },
    onSaved: onClose,
  });
  const submit = () => save(record ? `Group ${form.name.trim()} saved` : `Group ${form.name.trim()} created`);

  const imageOptions = (images.data?.items ?? []).map((i) => ({ value: i.id, label: i.name }));
  const snapshotOptions = (snapshots.data?.items ?? []).map((s) => ({ value: s.id, label: `${s.name}${s.isPublished ? ' (published)' : ''}` }));
  const rangeOptions = (ranges.data?.items ?? []).map((r) => ({ value: r.id, label: `${r.name} (${r.cidr})` }));

  return (
    <Modal
      closeButtonProps={{ 'aria-label': 'Close' }}
      opened={opened}
      onClose={onClose}
      title={record ? `Edit group ${record.name}` : 'New group'}
      size="lg"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Stack gap="sm">
          <StaleAlert show={stale} />
          <TextInput label="Name" required value={form.name} onChange={(e) => set('name', e.currentTarget.value)} error={errs.field('name')} />
          <Textarea
            label="Description"
            autosize
            minRows={1}
            value={form.description}
            onChange={(e) => set('description', e.currentTarget.value)}
            error={errs.field('description')}
          />
          <Select
            label="Image"
            description="what members boot unless they set their own"
            placeholder="No image"
            data={imageOptions}
            value={form.imageId || null}
            onChange={(v) => setForm((f) => ({ ...f, imageId: v ?? DEFAULT, pinnedSnapshotId: DEFAULT }))}
            clearable
            searchable
            error={errs.field('imageId')}
          />
          <Select
            label="Pinned version"
            description="a version of the image to boot instead of the published one"
            placeholder={form.imageId ? 'Published version' : 'Choose an image first'}
            disabled={!form.imageId}
            data={snapshotOptions}
            value={form.pinnedSnapshotId || null}
            onChange={(v) => set('pinnedSnapshotId', v ?? DEFAULT)}
            clearable
            error={errs.field('pinnedSnapshotId')}
          />
          <Group grow align="flex-start">
            <Select
              label="Disk policy"
              data={[
                { value: INHERIT, label: "Image's default" },
                { value: 'reset', label: 'reset (fresh each boot)' },
                { value: 'persistent', label: 'persistent' },
              ]}
              value={form.diskPolicy}
              onChange={(v) => set('diskPolicy', v ?? INHERIT)}
              allowDeselect={false}
              error={errs.field('diskPolicy')}
            />
            <Select
              label="Boot loader"
              data={[{ value: INHERIT, label: 'Default' }, ...BOOT_LOADERS.map((b) => ({ value: b, label: b }))]}
              value={form.bootLoader}
              onChange={(v) => set('bootLoader', v ?? INHERIT)}
              allowDeselect={false}
              error={errs.field('bootLoader')}
            />
          </Group>
          <TextInput
            label="Custom boot parameters"
            description="extra kernel command line"
            value={form.bootParams}
            onChange={(e) => set('bootParams', e.currentTarget.value)}
            error={errs.field('bootParams')}
          />
          <Select
            label="Default group for range"
            description="unknown PCs registered by DHCP on this range join this group"
            placeholder="None"
            data={rangeOptions}
            value={form.defaultForRangeId || null}
            onChange={(v) => set('defaultForRangeId', v ?? DEFAULT)}
            clearable
            error={errs.field('defaultForRangeId')}
          />
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

function WakeResult({ result, onClose }: { result: GroupWake | null; onClose: () => void }) {
  const failed = result?.results.filter((r) => r.status === 'failed') ?? [];
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={!!result} onClose={onClose} title={result ? `Wake ${result.group}` : ''} size="lg">
      {result && (
        <Stack gap="sm" data-testid="wake-result">
          <Group gap="xs">
            <Badge variant="outline" color="gray.8">
              {result.total} members
            </Badge>
            <Badge variant="light" color="indigo">
              {result.sent} sent
            </Badge>
            <Badge variant="outline" color={result.failed ? 'red.9' : 'gray.8'}>
              {result.failed} failed
            </Badge>
          </Group>
          {result.total === 0 && <Text size="sm">The group has no members: nothing to wake.</Text>}
          {failed.length > 0 && (
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Client</Table.Th>
                  <Table.Th>MAC</Table.Th>
                  <Table.Th>Why not sent</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {failed.map((r) => (
                  <Table.Tr key={r.clientId}>
                    <Table.Td>{r.hostname}</Table.Td>
                    <Table.Td>{r.macAddress}</Table.Td>
                    <Table.Td>
                      <Text size="sm" fw={600}>
                        {r.code}
                      </Text>
                      <Text size="xs">{r.message}</Text>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Stack>
      )}
    </Modal>
  );
}

export default function GroupsPage() {
  const qc = useQueryClient();
  const canWrite = useCan('operator');
  const groups = useQuery({
    queryKey: ['client-groups', 'list'],
    queryFn: () => call(api.GET('/api/v1/client-groups', { params: { query: { limit: 500, sort: 'name' } } })),
  });
  const images = useImages();
  const ranges = useRanges();
  const [editing, setEditing] = useState<{ group: ClientGroup | null; key: number } | null>(null);
  const [deleting, setDeleting] = useState<ClientGroup | null>(null);
  const [waking, setWaking] = useState<string | null>(null);
  const [wakeResult, setWakeResult] = useState<GroupWake | null>(null);

  const imageName = (id?: string | null) => (id ? (images.data?.items.find((i) => i.id === id)?.name ?? id.slice(0, 8)) : null);
  const rangeName = (id?: string | null) => (id ? (ranges.data?.items.find((r) => r.id === id)?.name ?? id.slice(0, 8)) : null);

  const wake = async (g: ClientGroup) => {
    setWaking(g.id);
    try {
      setWakeResult(await call(api.POST('/api/v1/client-groups/{id}/wake', { params: { path: { id: g.id } } })));
    } catch (e) {
      notifyError(e, 'Wake failed');
    } finally {
      setWaking(null);
    }
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Groups</Title>
        <Can role="operator">
          <Button onClick={() => setEditing({ group: null, key: Date.now() })}>New group</Button>
        </Can>
      </Group>
      {groups.error && (
        <Alert variant="outline" color="red.9" title="Could not load groups">
          {groups.error.message}
        </Alert>
      )}
      {groups.isPending && <Loader aria-label="Loading groups" />}
      {groups.data && groups.data.items.length === 0 && <Text>No groups yet.</Text>}
      {groups.data && groups.data.items.length > 0 && (
        <Table.ScrollContainer minWidth={800}>
          <Table striped highlightOnHover data-testid="groups-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Members</Table.Th>
                <Table.Th>Image</Table.Th>
                <Table.Th>Disk policy</Table.Th>
                <Table.Th>Boot loader</Table.Th>
                <Table.Th>Boot parameters</Table.Th>
                <Table.Th>Default for range</Table.Th>
                {canWrite && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {groups.data.items.map((g) => (
                <Table.Tr key={g.id} data-testid={`group-row-${g.name}`}>
                  <Table.Td>
                    <Text fw={600} size="sm">
                      {g.name}
                    </Text>
                    {g.description && <Text size="xs">{g.description}</Text>}
                  </Table.Td>
                  <Table.Td>
                    <MemberCount groupId={g.id} />
                  </Table.Td>
                  <Table.Td>
                    {imageName(g.imageId) ?? '—'}
                    {g.pinnedSnapshotId && (
                      <Badge ml="xs" variant="outline" color="grape.9">
                        pinned
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>{g.diskPolicy ?? "image's default"}</Table.Td>
                  <Table.Td>{g.bootLoader ?? 'default'}</Table.Td>
                  <Table.Td>{g.bootParams ? <code>{g.bootParams}</code> : '—'}</Table.Td>
                  <Table.Td>{rangeName(g.defaultForRangeId) ?? '—'}</Table.Td>
                  {canWrite && (
                    <Table.Td>
                      <Group gap="xs" wrap="nowrap">
                        <Button size="xs" variant="default" onClick={() => setEditing({ group: g, key: Date.now() })} aria-label={`Edit ${g.name}`}>
                          Edit
                        </Button>
                        <Button size="xs" variant="default" loading={waking === g.id} onClick={() => void wake(g)} aria-label={`Wake ${g.name}`}>
                          Wake
                        </Button>
                        <Button size="xs" variant="outline" color="red.9" onClick={() => setDeleting(g)} aria-label={`Delete ${g.name}`}>
                          Delete
                        </Button>
                      </Group>
                    </Table.Td>
                  )}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {editing && <GroupModal key={editing.key} group={editing.group} opened onClose={() => setEditing(null)} />}
      <ConfirmDelete
        what={`group ${deleting?.name ?? ''}`}
        opened={!!deleting}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/client-groups/{id}', { params: { path: { id: deleting!.id } } }));
          notifyDone(`Group ${deleting!.name} deleted`);
          void qc.invalidateQueries({ queryKey: ['client-groups'] });
        }}
      >
        <Text size="sm">A group that still has clients cannot be deleted: move or delete its clients first.</Text>
      </ConfirmDelete>
      <WakeResult result={wakeResult} onClose={() => setWakeResult(null)} />
    </Stack>
  );
}
