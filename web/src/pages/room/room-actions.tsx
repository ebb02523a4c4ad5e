import { Alert, Button, Group, Modal, Select, Stack, Switch, Table, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, useSyncExternalStore } from 'react';
import { api, ApiError, call, type Schemas } from '../../api/client';
import { notifyDone, notifyError } from '../../lib/notify';
import type { RoomStore } from './room-store';

type ActionBody = Schemas['ClientActionDto'];
type Action = ActionBody['action'];
interface Problem {
  clientId: string;
  hostname?: string;
  code?: string;
  message?: string;
}

const VERB: Record<Action, string> = {
  wake: 'Wake',
  'assign-image': 'Assign image',
  'assign-version': 'Assign version',
  'move-to-group': 'Move to group',
  enable: 'Enable',
  disable: 'Disable',
  'reset-disk': 'Reset disk',
  delete: 'Delete',
};

const INHERIT = '__inherit';
const PUBLISHED = '__published';

/**
 * What an operator can do with the selected tiles, all through `POST /clients/actions`: wake, assign an image (and
 * optionally pin one of its versions, or pin a version only), move to a group, enable, disable, reset the disk.
 * Per-client failures (a 200 with failed results, or a 400 listing the clients that block the action) are listed.
 */
export function RoomActions({ store, groups }: { store: RoomStore; groups: Schemas['ClientGroupResponseDto'][] }) {
  const qc = useQueryClient();
  useSyncExternalStore(
    (fn) => store.subscribeSelection(fn),
    () => store.selectionVersion,
  );
  const ids = store.selectedIds();
  const [dialog, setDialog] = useState<'assign' | 'move' | 'reset' | null>(null);
  const [outcome, setOutcome] = useState<{ title: string; problems: Problem[] } | null>(null);

  const act = useMutation({
    mutationFn: (body: ActionBody) => call(api.POST('/api/v1/clients/actions', { body })),
    onSuccess: (r) => {
      const failed: Problem[] = r.results.filter((x) => x.status === 'failed');
      if (failed.length) setOutcome({ title: `${VERB[r.action]}: ${r.failed} of ${r.total} clients failed`, problems: failed });
      else {
        setOutcome(null);
        notifyDone(`${VERB[r.action]}: done for ${r.total} client${r.total === 1 ? '' : 's'}`);
      }
      setDialog(null);
      void qc.invalidateQueries({ queryKey: ['room'] });
    },
    onError: (e, body) => {
      notifyError(e, `${VERB[body.action]} failed`);
      const listed = e instanceof ApiError ? (e.details?.clients as Problem[] | undefined) : undefined;
      setOutcome({ title: `${VERB[body.action]} failed: ${e.message}`, problems: listed ?? [] });
    },
  });
  const run = (body: Omit<ActionBody, 'ids'>) => act.mutate({ ...body, ids });
  const none = ids.length === 0;

  return (
    <Stack gap={6}>
      <Group gap="xs" role="toolbar" aria-label="Actions on the selected clients" data-testid="room-toolbar">
        <Text size="sm" fw={600} data-testid="selection-count" aria-live="polite">
          {ids.length} selected
        </Text>
        <Button size="xs" disabled={none} loading={act.isPending && act.variables?.action === 'wake'} onClick={() => run({ action: 'wake' })}>
          Wake
        </Button>
        <Button size="xs" disabled={none} onClick={() => setDialog('assign')}>
          Assign image…
        </Button>
        <Button size="xs" disabled={none} onClick={() => setDialog('move')}>
          Move to group…
        </Button>
        <Button size="xs" variant="default" disabled={none} onClick={() => run({ action: 'enable' })}>
          Enable
        </Button>
        <Button size="xs" variant="default" disabled={none} onClick={() => run({ action: 'disable' })}>
          Disable
        </Button>
        <Button size="xs" color="red" variant="outline" disabled={none} onClick={() => setDialog('reset')}>
          Reset disk…
        </Button>
        <Button size="xs" variant="subtle" disabled={none} onClick={() => store.setSelection([])}>
          Clear selection
        </Button>
      </Group>
      {outcome && (
        <Alert
          color="red"
          title={outcome.title}
          withCloseButton
          closeButtonLabel="Dismiss"
          onClose={() => setOutcome(null)}
          data-testid="action-result"
        >
          {outcome.problems.length > 0 && (
            <Table withTableBorder fz="sm">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Client</Table.Th>
                  <Table.Th>Code</Table.Th>
                  <Table.Th>Message</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {outcome.problems.slice(0, 50).map((p) => (
                  <Table.Tr key={p.clientId}>
                    <Table.Td>{p.hostname ?? store.get(p.clientId)?.hostname ?? p.clientId}</Table.Td>
                    <Table.Td>{p.code ?? '—'}</Table.Td>
                    <Table.Td>{p.message ?? '—'}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Alert>
      )}
      <AssignDialog opened={dialog === 'assign'} count={ids.length} busy={act.isPending} onClose={() => setDialog(null)} onSubmit={(b) => run(b)} />
      <MoveDialog
        opened={dialog === 'move'}
        count={ids.length}
        groups={groups}
        busy={act.isPending}
        onClose={() => setDialog(null)}
        onSubmit={(b) => run(b)}
      />
      <Modal opened={dialog === 'reset'} onClose={() => setDialog(null)} title="Reset disks">
        <Stack>
          <Text>
            Discard every write on the disks of {ids.length} client{ids.length === 1 ? '' : 's'}? They start from their image again at the next boot.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDialog(null)}>
              Cancel
            </Button>
            <Button color="red" loading={act.isPending} onClick={() => run({ action: 'reset-disk' })}>
              Reset {ids.length} disk{ids.length === 1 ? '' : 's'}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function AssignDialog(props: { opened: boolean; count: number; busy: boolean; onClose: () => void; onSubmit: (b: Omit<ActionBody, 'ids'>) => void }) {
  const [imageId, setImageId] = useState<string | null>(null);
  const [versionId, setVersionId] = useState<string>(PUBLISHED);
  const [versionOnly, setVersionOnly] = useState(false);
  const images = useQuery({
    queryKey: ['images', 'room-picker'],
    queryFn: () => call(api.GET('/api/v1/images', { params: { query: { limit: 500, sort: 'name' } } })),
    enabled: props.opened,
  });
  const realImage = imageId && imageId !== INHERIT ? imageId : null;
  const versions = useQuery({
    queryKey: ['snapshots', realImage],
    queryFn: () => call(api.GET('/api/v1/images/{imageId}/snapshots', { params: { path: { imageId: realImage! }, query: { limit: 500 } } })),
    enabled: props.opened && !!realImage,
  });
  const pin = versionId !== PUBLISHED ? versionId : null;
  const submit = () => {
    if (versionOnly) props.onSubmit({ action: 'assign-version', pinnedSnapshotId: pin });
    else props.onSubmit({ action: 'assign-image', imageId: realImage, pinnedSnapshotId: realImage ? pin : null });
  };
  return (
    <Modal opened={props.opened} onClose={props.onClose} title={`Assign an image to ${props.count} client${props.count === 1 ? '' : 's'}`}>
      <Stack>
        <Select
          label="Image"
          placeholder="Pick an image"
          searchable
          data={[
            { value: INHERIT, label: "The group's image (inherit)" },
            ...(images.data?.items ?? []).map((i) => ({ value: i.id, label: i.name })),
          ]}
          value={imageId}
          onChange={(v) => {
            setImageId(v);
            setVersionId(PUBLISHED);
          }}
        />
        <Select
          label="Version"
          disabled={!realImage}
          data={[
            { value: PUBLISHED, label: versionOnly ? 'No pin (the published version)' : 'The published version (follows new ones)' },
            ...(versions.data?.items ?? []).map((v) => ({ value: v.id, label: `${v.name}${v.isPublished ? ' (published)' : ''}` })),
          ]}
          value={versionId}
          onChange={(v) => setVersionId(v ?? PUBLISHED)}
          allowDeselect={false}
        />
        <Switch
          label="Only pin this version (keep each client's image)"
          checked={versionOnly}
          onChange={(e) => setVersionOnly(e.currentTarget.checked)}
          disabled={!realImage}
        />
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            Cancel
          </Button>
          <Button onClick={submit} loading={props.busy} disabled={!imageId}>
            Assign
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

function MoveDialog(props: {
  opened: boolean;
  count: number;
  groups: Schemas['ClientGroupResponseDto'][];
  busy: boolean;
  onClose: () => void;
  onSubmit: (b: Omit<ActionBody, 'ids'>) => void;
}) {
  const NONE = '__none';
  const [groupId, setGroupId] = useState<string | null>(null);
  return (
    <Modal opened={props.opened} onClose={props.onClose} title={`Move ${props.count} client${props.count === 1 ? '' : 's'} to a group`}>
      <Stack>
        <Select
          label="Group"
          placeholder="Pick a group"
          searchable
          data={[{ value: NONE, label: 'No group' }, ...props.groups.map((g) => ({ value: g.id, label: g.name }))]}
          value={groupId}
          onChange={setGroupId}
        />
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            Cancel
          </Button>
          <Button
            disabled={!groupId}
            loading={props.busy}
            onClick={() => props.onSubmit({ action: 'move-to-group', targetGroupId: groupId === NONE ? null : groupId })}
          >
            Move
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
