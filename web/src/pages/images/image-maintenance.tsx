import { Alert, Anchor, Button, Group, Paper, Select, Stack, Stepper, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, call, type Schemas } from '../../api/client';
import { formatTime } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';

type Image = Schemas['ImageResponseDto'];
type Version = Schemas['SnapshotResponseDto'];

/**
 * Maintenance as a guided flow (operator): pick a client of this image, make it the maintenance client (it boots a
 * persistent writable clone of the newest version), boot it and change what is needed, commit its disk as a new
 * version, publish that version. "End maintenance" discards the maintenance disk.
 */
export function ImageMaintenance({ image }: { image: Image }) {
  const qc = useQueryClient();
  const active = !!image.maintenanceClientId;
  const [clientId, setClientId] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search, 200);
  const [committed, setCommitted] = useState<Version | null>(null);
  const [published, setPublished] = useState(false);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [booted, setBooted] = useState(false);
  const step = committed ? (published ? 4 : 3) : active ? (booted ? 2 : 1) : 0;

  const clients = useQuery({
    queryKey: ['clients', { imageId: image.id, q, limit: 50 }],
    queryFn: () => call(api.GET('/api/v1/clients', { params: { query: { imageId: image.id, q: q || undefined, limit: 50 } } })),
    enabled: !active && !committed,
  });
  const maintClient = useQuery({
    queryKey: ['clients', image.maintenanceClientId],
    queryFn: () => call(api.GET('/api/v1/clients/{id}', { params: { path: { id: image.maintenanceClientId! } } })),
    enabled: active,
  });
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ['images'] });
    void qc.invalidateQueries({ queryKey: ['snapshots'] });
  };

  const start = useMutation({
    mutationFn: () => call(api.POST('/api/v1/images/{id}/maintenance', { params: { path: { id: image.id } }, body: { clientId: clientId! } })),
    onSuccess: () => {
      notifyDone('Maintenance started: boot the client');
      setCommitted(null);
      setPublished(false);
      refresh();
    },
    onError: (e) => notifyError(e, 'Could not start maintenance'),
  });
  const wake = useMutation({
    mutationFn: () => call(api.POST('/api/v1/clients/{id}/wake', { params: { path: { id: image.maintenanceClientId! } } })),
    onSuccess: (r) => notifyDone(`Wake-on-LAN sent to ${r.hostname}${r.interface ? ` on ${r.interface}` : ''}`),
    onError: (e) => notifyError(e, 'Could not wake the client'),
  });
  const commit = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/images/{imageId}/snapshots/commit', {
          params: { path: { imageId: image.id } },
          body: { name, description: description || undefined },
        }),
      ),
    onSuccess: (v) => {
      notifyDone(`Version ${v.name} committed from the maintenance disk`);
      setCommitted(v);
      refresh();
    },
    onError: (e) => notifyError(e, 'Could not commit'),
  });
  const publish = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/images/{imageId}/snapshots/{snapshotId}/publish', { params: { path: { imageId: image.id, snapshotId: committed!.id } } }),
      ),
    onSuccess: (v) => {
      notifyDone(`Version ${v.name} is published`);
      setPublished(true);
      refresh();
    },
    onError: (e) => notifyError(e, 'Could not publish'),
  });
  const end = useMutation({
    mutationFn: () => call(api.DELETE('/api/v1/images/{id}/maintenance', { params: { path: { id: image.id } } })),
    onSuccess: () => {
      notifyDone('Maintenance ended');
      setCommitted(null);
      setPublished(false);
      setBooted(false);
      setClientId(null);
      refresh();
    },
    onError: (e) => notifyError(e, 'Could not end maintenance'),
  });

  const hostname = maintClient.data?.hostname ?? image.maintenanceClientId ?? '';
  return (
    <Paper withBorder p="md" data-testid="maintenance">
      <Stack>
        <Group justify="space-between">
          <Title order={3}>Maintenance</Title>
          {active && (
            <Button
              color="red"
              variant="light"
              onClick={() => {
                if (window.confirm('End maintenance? The maintenance disk is discarded (commit first to keep it).')) end.mutate();
              }}
              loading={end.isPending}
            >
              End maintenance
            </Button>
          )}
        </Group>
        <Stepper active={step} size="sm" styles={{ stepDescription: { color: 'var(--mantine-color-gray-7)' } }}>
          <Stepper.Step label="Choose a client" description="one assigned to this image">
            <Group align="flex-end">
              <Select
                label="Maintenance client"
                placeholder="search by hostname or MAC"
                searchable
                searchValue={search}
                onSearchChange={setSearch}
                filter={({ options }) => options}
                data={(clients.data?.items ?? []).map((c) => ({ value: c.id, label: `${c.hostname} (${c.macAddress})` }))}
                value={clientId}
                onChange={setClientId}
                nothingFoundMessage={clients.isFetching ? 'Searching…' : 'No client of this image matches'}
                w={360}
              />
              <Button onClick={() => start.mutate()} disabled={!clientId || image.contentStatus !== 'ready'} loading={start.isPending}>
                Start maintenance
              </Button>
            </Group>
            <Text size="xs" c="gray.7" mt="xs">
              Only clients assigned to this image can maintain it. It boots a persistent, writable clone of the newest version.
            </Text>
          </Stepper.Step>
          <Stepper.Step label="Boot it" description="and make the changes">
            <Text size="sm">
              <Anchor component={Link} to={`/clients/${image.maintenanceClientId}`}>
                {hostname}
              </Anchor>{' '}
              is the maintenance client. Boot it (power it on, or send Wake-on-LAN), install updates or software, then shut it down cleanly.
            </Text>
            <Group mt="sm">
              <Button variant="default" onClick={() => wake.mutate()} loading={wake.isPending}>
                Wake {hostname}
              </Button>
              <Button onClick={() => setBooted(true)}>Changes done: commit next</Button>
            </Group>
          </Stepper.Step>
          <Stepper.Step label="Commit" description="its disk as a new version">
            {active && (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  commit.mutate();
                }}
              >
                <Group align="flex-end">
                  <TextInput
                    label="Name of the committed version"
                    placeholder="v2-updates"
                    value={name}
                    onChange={(e) => setName(e.currentTarget.value)}
                  />
                  <TextInput label="Committed version description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
                  <Button type="submit" loading={commit.isPending} disabled={!name}>
                    Commit version
                  </Button>
                </Group>
                <Text size="xs" c="gray.7" mt="xs">
                  The copy is crash-consistent: shut the client down first for a clean file system.
                </Text>
              </form>
            )}
          </Stepper.Step>
          <Stepper.Step label="Publish" description="clients boot it next time">
            {committed && (
              <Group>
                <Text size="sm">
                  Version <b>{committed.name}</b> was committed {formatTime(committed.createdAt)}.
                </Text>
                <Button onClick={() => publish.mutate()} loading={publish.isPending}>
                  Publish {committed.name}
                </Button>
              </Group>
            )}
          </Stepper.Step>
          <Stepper.Completed>
            <Alert color="teal" title="Published">
              {committed?.name} is published. End maintenance when the maintenance client is no longer needed, or commit again.
            </Alert>
          </Stepper.Completed>
        </Stepper>
      </Stack>
    </Paper>
  );
}
