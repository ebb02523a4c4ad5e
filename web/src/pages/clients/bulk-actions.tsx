import { Button, Group, List, Modal, Select, Stack, Text } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, call, type Schemas } from '../../api/client';
import { notifyDone, notifyError } from '../../lib/notify';
import { batches } from './csv-import';
import { useNames, useSnapshots, type Client } from './queries';
import { ErrorAlert } from './error-alert';

type Action = Schemas['ClientActionDto']['action'];
type Result = Schemas['ClientActionResultDto'];

const ACTIONS: { value: Action; label: string }[] = [
  { value: 'enable', label: 'Enable' },
  { value: 'disable', label: 'Disable' },
  { value: 'wake', label: 'Wake (Wake-on-LAN)' },
  { value: 'reset-disk', label: 'Reset disk' },
  { value: 'assign-image', label: 'Assign image' },
  { value: 'assign-version', label: 'Pin version' },
  { value: 'move-to-group', label: 'Move to group' },
  { value: 'delete', label: 'Delete' },
];
const INHERIT = '__inherit__';

/** Failures the API reported: per-client results with status failed, or a refused batch's details.clients. */
function failuresOf(e: unknown): Result[] {
  if (!(e instanceof ApiError)) return [];
  const list = e.details?.clients;
  if (!Array.isArray(list)) return [];
  return list.map((c: { clientId: string; hostname: string; code?: string; message?: string }) => ({ ...c, status: 'failed' as const }));
}

/**
 * One action on the selected clients through `POST /api/v1/clients/actions`, 1000 ids per call; per-client failures
 * are listed. Delete (and disk reset) ask first.
 */
export function BulkActionBar({
  selected,
  clients,
  onDone,
  onClear,
}: {
  selected: ReadonlySet<string>;
  clients: readonly Client[];
  onDone: (keepSelection: boolean) => void;
  onClear: () => void;
}) {
  const qc = useQueryClient();
  const names = useNames();
  const [action, setAction] = useState<Action | null>(null);
  const [imageId, setImageId] = useState<string | null>(null);
  const [snapshotId, setSnapshotId] = useState<string | null>(null);
  const [groupId, setGroupId] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [failures, setFailures] = useState<{ failed: Result[]; error?: string } | null>(null);
  const versions = useSnapshots(action === 'assign-image' || action === 'assign-version' ? imageId : null);

  const run = useMutation({
    mutationFn: async () => {
      const ids = [...selected];
      const body: Omit<Schemas['ClientActionDto'], 'ids'> = { action: action! };
      if (action === 'assign-image') {
        body.imageId = imageId === INHERIT ? null : imageId;
        body.pinnedSnapshotId = snapshotId;
      }
      if (action === 'assign-version') body.pinnedSnapshotId = snapshotId === INHERIT ? null : snapshotId;
      if (action === 'move-to-group') body.targetGroupId = groupId === INHERIT ? null : groupId;
      const results: Result[] = [];
      let done = 0;
      for (const chunk of batches(ids)) {
        try {
          const r = await call(api.POST('/api/v1/clients/actions', { body: { ...body, ids: chunk } }));
          results.push(...r.results);
          done += r.total;
        } catch (e) {
          // earlier batches are done; say so with the API's reasons for this one
          throw Object.assign(e as Error, { done, results });
        }
      }
      return { done, results };
    },
    onSuccess: ({ done, results }) => {
      const failed = results.filter((r) => r.status === 'failed');
      void qc.invalidateQueries({ queryKey: ['clients'] });
      if (failed.length) setFailures({ failed });
      notifyDone(`${ACTIONS.find((a) => a.value === action)?.label}: ${done - failed.length} of ${done} clients done`);
      onDone(action !== 'delete' && failed.length > 0);
    },
    onError: (e: Error & { done?: number; results?: Result[] }) => {
      void qc.invalidateQueries({ queryKey: ['clients'] });
      const failed = [...(e.results ?? []).filter((r) => r.status === 'failed'), ...failuresOf(e)];
      setFailures({ failed, error: `${e.message}${e.done ? ` (${e.done} clients were done before this)` : ''}` });
      notifyError(e, 'Bulk action failed');
    },
  });

  const needs =
    action === 'assign-image'
      ? !!imageId
      : action === 'assign-version'
        ? !!imageId && !!snapshotId
        : action === 'move-to-group'
          ? !!groupId
          : !!action;
  const start = () => (action === 'delete' || action === 'reset-disk' ? setConfirming(true) : run.mutate());
  const hostnames = clients.filter((c) => selected.has(c.id)).map((c) => c.hostname);
  const versionOptions = (versions.data ?? []).map((s) => ({ value: s.id, label: `${s.name}${s.isPublished ? ' (published)' : ''}` }));

  return (
    <Group gap="sm" align="flex-end" data-testid="bulk-bar">
      <Text size="sm" fw={600} mb={6}>
        {selected.size} selected
      </Text>
      <Select
        label="Action"
        placeholder="choose"
        data={ACTIONS}
        value={action}
        onChange={(v) => {
          setAction(v as Action | null);
          setSnapshotId(null);
        }}
        w={190}
      />
      {(action === 'assign-image' || action === 'assign-version') && (
        <Select
          label="Image"
          data={[
            ...(action === 'assign-image' ? [{ value: INHERIT, label: "(none: the group's)" }] : []),
            ...names.imageList.map((i) => ({ value: i.id, label: i.name })),
          ]}
          value={imageId}
          onChange={(v) => {
            setImageId(v);
            setSnapshotId(null);
          }}
          searchable
          w={190}
        />
      )}
      {(action === 'assign-image' || action === 'assign-version') && imageId && imageId !== INHERIT && (
        <Select
          label={action === 'assign-image' ? 'Pinned version (optional)' : 'Version'}
          data={[...(action === 'assign-version' ? [{ value: INHERIT, label: '(none: the published one)' }] : []), ...versionOptions]}
          value={snapshotId}
          onChange={setSnapshotId}
          clearable={action === 'assign-image'}
          w={210}
        />
      )}
      {action === 'move-to-group' && (
        <Select
          label="Group"
          data={[{ value: INHERIT, label: '(no group)' }, ...names.groupList.map((g) => ({ value: g.id, label: g.name }))]}
          value={groupId}
          onChange={setGroupId}
          searchable
          w={190}
        />
      )}
      <Button onClick={start} disabled={!needs} loading={run.isPending} color={action === 'delete' ? 'red.9' : undefined}>
        Apply to {selected.size}
      </Button>
      <Button variant="default" onClick={onClear}>
        Clear selection
      </Button>

      <Modal
        closeButtonProps={{ 'aria-label': 'Close' }}
        opened={confirming}
        onClose={() => setConfirming(false)}
        title={action === 'delete' ? 'Delete clients' : 'Reset disks'}
      >
        <Stack>
          <Text>
            {action === 'delete'
              ? `Delete ${selected.size} clients and their disks? This cannot be undone.`
              : `Discard everything ${selected.size} clients wrote to their disks?`}
          </Text>
          <Text size="sm" c="gray.7">
            {hostnames.slice(0, 10).join(', ')}
            {hostnames.length > 10 ? ` and ${hostnames.length - 10} more` : ''}
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)}>
              Cancel
            </Button>
            <Button
              color="red.9"
              onClick={() => {
                setConfirming(false);
                run.mutate();
              }}
            >
              {action === 'delete' ? `Delete ${selected.size} clients` : `Reset ${selected.size} disks`}
            </Button>
          </Group>
        </Stack>
      </Modal>

      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={!!failures} onClose={() => setFailures(null)} title="Some clients failed" size="lg">
        {failures && (
          <Stack data-testid="bulk-failures">
            {failures.error && <ErrorAlert>{failures.error}</ErrorAlert>}
            {failures.failed.length > 0 && (
              <List size="sm">
                {failures.failed.map((f) => (
                  <List.Item key={f.clientId}>
                    <b>{f.hostname}</b>: {f.code ? `${f.code}: ` : ''}
                    {f.message ?? 'failed'}
                  </List.Item>
                ))}
              </List>
            )}
          </Stack>
        )}
      </Modal>
    </Group>
  );
}
