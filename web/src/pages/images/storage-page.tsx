import { Alert, Anchor, Badge, Button, Code, Group, Paper, Progress, SimpleGrid, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { api, call, type Schemas } from '../../api/client';
import { Can } from '../../auth/auth';
import { formatBytes } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { CLONE_METHODS, storageGauge, topBy } from './images-logic';

type Report = Schemas['ReconcileReportDto'];
const TOP_DISKS = 20;

/** Used / free of the storage with DLS_STORAGE_MIN_FREE marked at its place from the full end. */
function SpaceGauge({ s }: { s: Schemas['StorageStatusDto'] }) {
  const g = storageGauge(s);
  return (
    <Stack gap={4}>
      <Group justify="space-between">
        <Text size="sm" id="space-label">
          {formatBytes(s.usedBytes)} used of {formatBytes(s.totalBytes)} ({g.usedPct}%), {formatBytes(s.freeBytes)} free
        </Text>
        <Text size="sm" c={g.belowMinFree ? 'red.8' : 'gray.7'}>
          minimum free (DLS_STORAGE_MIN_FREE): {formatBytes(s.minFreeBytes)}
          {g.belowMinFree ? ': below it, new content and clones are refused' : ' (the orange mark: free space right of it is kept free)'}
        </Text>
      </Group>
      {g.unavailablePct > 0 && (
        <Text size="xs" c="gray.7">
          {formatBytes(s.totalBytes - s.usedBytes - s.freeBytes)} of the filesystem are not available to DLS (reserved blocks).
        </Text>
      )}
      <div style={{ position: 'relative' }}>
        <Progress.Root size={28} data-testid="space-gauge">
          <Progress.Section value={g.usedPct} color={g.belowMinFree ? 'red.8' : 'indigo.8'} aria-label={`used: ${g.usedPct}%`}>
            <Progress.Label>used</Progress.Label>
          </Progress.Section>
          <Progress.Section value={Math.max(0, g.freePct - g.minFreePct)} color="teal.2" aria-label="free above the minimum">
            <Progress.Label c="dark">free</Progress.Label>
          </Progress.Section>
          <Progress.Section value={Math.min(g.freePct, g.minFreePct)} color="orange.2" aria-label="free within the minimum reserve">
            <Progress.Label c="dark">{g.minFreePct >= 4 ? 'min free' : ''}</Progress.Label>
          </Progress.Section>
          {g.unavailablePct > 0 && (
            <Progress.Section value={g.unavailablePct} color="gray.3" aria-label={`not available to DLS: ${g.unavailablePct}%`}>
              <Progress.Label c="dark">not available</Progress.Label>
            </Progress.Section>
          )}
        </Progress.Root>
        <Tooltip label={`DLS_STORAGE_MIN_FREE: ${formatBytes(s.minFreeBytes)}`}>
          <div
            aria-hidden
            style={{
              position: 'absolute',
              top: -4,
              bottom: -4,
              left: `${g.markerPct}%`,
              borderLeft: '3px solid var(--mantine-color-orange-8)',
            }}
          />
        </Tooltip>
      </div>
    </Stack>
  );
}

function ItemsTable({ title, rows, testId }: { title: string; rows: { kind: string; ref: string; detail?: string }[]; testId: string }) {
  return (
    <Stack gap={4}>
      <Text fw={600} size="sm">
        {title}: {rows.length}
      </Text>
      <Table data-testid={testId}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Kind</Table.Th>
            <Table.Th>Storage item</Table.Th>
            <Table.Th>Belongs to</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r, i) => (
            <Table.Tr key={`${r.ref}-${i}`}>
              <Table.Td>{r.kind}</Table.Td>
              <Table.Td>
                <Code>{r.ref}</Code>
              </Table.Td>
              <Table.Td>{r.detail ?? '—'}</Table.Td>
            </Table.Tr>
          ))}
          {rows.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={3}>
                <Text size="sm" c="gray.7">
                  none
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

const owner = (i: { imageId?: string; versionId?: string; clientId?: string }) =>
  [
    i.imageId && `image ${i.imageId.slice(0, 8)}`,
    i.versionId && `version ${i.versionId.slice(0, 8)}`,
    i.clientId && `client ${i.clientId.slice(0, 8)}`,
  ]
    .filter(Boolean)
    .join(', ') || undefined;

/** Admin: a dry run lists what reconcile would remove; a confirm runs it for real. */
function Reconcile() {
  const [dry, setDry] = useState<Report | null>(null);
  const [done, setDone] = useState<Report | null>(null);
  const run = useMutation({
    mutationFn: (removeOrphans: boolean) => call(api.POST('/api/v1/storage/reconcile', { body: { removeOrphans } })),
    onSuccess: (r, removeOrphans) => {
      if (removeOrphans) {
        setDone(r);
        setDry(null);
        notifyDone(`Reconcile removed ${r.removed.length} orphan${r.removed.length === 1 ? '' : 's'}`);
      } else {
        setDry(r);
        setDone(null);
      }
    },
    onError: (e) => notifyError(e, 'Reconcile failed'),
  });
  const nothing = dry && dry.orphans.length === 0 && dry.missing.length === 0;
  return (
    <Paper withBorder p="md" data-testid="reconcile">
      <Stack>
        <Title order={3}>Reconcile</Title>
        <Text size="sm">
          Compares what storage holds (items tagged as DLS's) with the database. Orphans are items no image, version or client owns (left by a crash
          or a manual change); missing items are records whose storage is gone. A dry run changes nothing.
        </Text>
        <Group>
          <Button variant="default" onClick={() => run.mutate(false)} loading={run.isPending && run.variables === false}>
            Dry run
          </Button>
          {dry && dry.orphans.length > 0 && (
            <Button color="red" onClick={() => run.mutate(true)} loading={run.isPending && run.variables === true}>
              Remove {dry.orphans.length} orphan{dry.orphans.length === 1 ? '' : 's'}
            </Button>
          )}
        </Group>
        {dry && (
          <Stack data-testid="reconcile-dry-run">
            {nothing ? (
              <Alert color="teal" title="Dry run: nothing to remove">
                Storage and database agree: no orphans, nothing missing.
              </Alert>
            ) : (
              <Alert color="orange" title="Dry run: differences found">
                {dry.orphans.length} orphan{dry.orphans.length === 1 ? '' : 's'} would be removed; {dry.missing.length} missing item
                {dry.missing.length === 1 ? '' : 's'} (reconcile cannot bring those back: re-upload or recreate them).
              </Alert>
            )}
            <ItemsTable
              title="Would be removed (orphans)"
              rows={dry.orphans.map((o) => ({ kind: o.kind, ref: o.ref, detail: owner(o) }))}
              testId="orphans-table"
            />
            <ItemsTable
              title="Missing from storage"
              rows={dry.missing.map((m) => ({ kind: m.kind, ref: m.id, detail: m.imageId ? `image ${m.imageId.slice(0, 8)}` : undefined }))}
              testId="missing-table"
            />
          </Stack>
        )}
        {done && (
          <Stack data-testid="reconcile-result">
            <Alert color="teal" title="Reconcile done">
              Removed {done.removed.length} orphan{done.removed.length === 1 ? '' : 's'}; {done.missing.length} missing item
              {done.missing.length === 1 ? '' : 's'} remain.
            </Alert>
            <ItemsTable title="Removed" rows={done.removed.map((o) => ({ kind: o.kind, ref: o.ref, detail: owner(o) }))} testId="removed-table" />
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}

export default function StoragePage() {
  const storage = useQuery({ queryKey: ['storage'], queryFn: () => call(api.GET('/api/v1/storage')) });
  const images = useQuery({
    queryKey: ['images', { limit: 500, names: true }],
    queryFn: () => call(api.GET('/api/v1/images', { params: { query: { limit: 500 } } })),
  });
  const clients = useQuery({
    queryKey: ['clients', { limit: 500, names: true }],
    queryFn: () => call(api.GET('/api/v1/clients', { params: { query: { limit: 500 } } })),
  });
  const imageName = new Map(images.data?.items.map((i) => [i.id, i.name]));
  const hostname = new Map(clients.data?.items.map((c) => [c.id, c.hostname]));
  const s = storage.data;
  return (
    <Stack>
      <Title order={2}>Storage</Title>
      {storage.error && (
        <Alert color="red" title="Storage unavailable">
          {storage.error.message}
        </Alert>
      )}
      {s && (
        <>
          <Paper withBorder p="md">
            <Stack>
              <SimpleGrid cols={{ base: 1, md: 3 }}>
                <div>
                  <Text size="xs" c="gray.7">
                    Driver
                  </Text>
                  <Text data-testid="storage-driver">{s.driver === 'zfs' ? 'ZFS' : 'directory (dir)'}</Text>
                  <Code>{s.root}</Code>
                </div>
                <div>
                  <Text size="xs" c="gray.7">
                    Clone method
                  </Text>
                  <Text data-testid="clone-method">{s.cloneMethod}</Text>
                  <Text size="xs">{CLONE_METHODS[s.cloneMethod]}</Text>
                </div>
                <div>
                  <Text size="xs" c="gray.7">
                    Health
                  </Text>
                  <Badge variant="light" color={s.healthy ? 'teal' : 'red'}>
                    {s.healthy ? 'healthy' : 'unhealthy'}
                  </Badge>
                  {s.detail && <Text size="xs">{s.detail}</Text>}
                </div>
              </SimpleGrid>
              <SpaceGauge s={s} />
            </Stack>
          </Paper>
          <Paper withBorder p="md">
            <Title order={3} mb="sm">
              Images and versions
            </Title>
            <Table data-testid="image-usage">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Image / version</Table.Th>
                  <Table.Th>Content</Table.Th>
                  <Table.Th>Disk size</Table.Th>
                  <Table.Th>Referenced</Table.Th>
                  <Table.Th>Only this version holds</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {s.images.flatMap((img) => [
                  <Table.Tr key={img.id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/images/${img.id}`} fw={600}>
                        {img.name}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>{img.contentStatus}</Table.Td>
                    <Table.Td>{formatBytes(img.sizeBytes)}</Table.Td>
                    <Table.Td>—</Table.Td>
                    <Table.Td>{formatBytes(img.versions.reduce((n, v) => n + v.usedBytes, 0))} in versions</Table.Td>
                  </Table.Tr>,
                  ...img.versions.map((v) => (
                    <Table.Tr key={v.id}>
                      <Table.Td pl="xl">{v.name}</Table.Td>
                      <Table.Td>version</Table.Td>
                      <Table.Td>—</Table.Td>
                      <Table.Td>{formatBytes(v.referencedBytes)}</Table.Td>
                      <Table.Td>{formatBytes(v.usedBytes)}</Table.Td>
                    </Table.Tr>
                  )),
                ])}
                {s.images.length === 0 && (
                  <Table.Tr>
                    <Table.Td colSpan={5}>
                      <Text size="sm" c="gray.7">
                        No images in storage.
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                )}
              </Table.Tbody>
            </Table>
          </Paper>
          <Paper withBorder p="md">
            <Title order={3} mb="sm">
              Client disks (largest {TOP_DISKS} of {s.clientDisks.length})
            </Title>
            <Table data-testid="client-disk-usage">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Client</Table.Th>
                  <Table.Th>Image</Table.Th>
                  <Table.Th>Written by the client</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {topBy(s.clientDisks, (d) => d.writtenBytes, TOP_DISKS).map((d) => (
                  <Table.Tr key={d.clientId}>
                    <Table.Td>
                      <Anchor component={Link} to={`/clients/${d.clientId}`}>
                        {hostname.get(d.clientId) ?? d.clientId.slice(0, 8)}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      <Anchor component={Link} to={`/images/${d.imageId}`}>
                        {imageName.get(d.imageId) ?? d.imageId.slice(0, 8)}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>{formatBytes(d.writtenBytes)}</Table.Td>
                  </Table.Tr>
                ))}
                {s.clientDisks.length === 0 && (
                  <Table.Tr>
                    <Table.Td colSpan={3}>
                      <Text size="sm" c="gray.7">
                        No client disks.
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                )}
              </Table.Tbody>
            </Table>
          </Paper>
        </>
      )}
      <Can role="admin">
        <Reconcile />
      </Can>
    </Stack>
  );
}
