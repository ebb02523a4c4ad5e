import { Alert, Badge, Button, Group, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { Can } from '../../auth/auth';
import { formatTime } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { ConfirmDelete } from './admin-ui';

type DlsNode = Schemas['NodeResponseDto'];
type Replica = Schemas['ReplicaResponseDto'];

/** A node's copies of the image versions: how many it may boot from, and what is on its way or failed. */
function VersionsCell({ rows }: { rows: Replica[] }) {
  if (rows.length === 0) return <>—</>;
  const verified = rows.filter((r) => r.state === 'verified').length;
  const moving = rows.filter((r) => r.state === 'copying' || r.state === 'verifying');
  const failed = rows.filter((r) => r.state === 'failed');
  const missing = rows.filter((r) => r.state === 'missing');
  return (
    <Stack gap={2}>
      <Text size="sm">
        {verified} of {rows.length} verified
      </Text>
      {moving.map((r) => (
        <Text size="xs" c="gray.7" key={r.versionId}>
          {r.state} {r.image} {r.version}
          {r.sourceNode ? ` from ${r.sourceNode}` : ''} ({Math.round(r.bytesCopied / 1e6)} MB)
        </Text>
      ))}
      {failed.map((r) => (
        <Text size="xs" c="red.9" key={r.versionId} title={r.error ?? undefined}>
          {r.image} {r.version} failed: {r.error}
        </Text>
      ))}
      {missing.length > 0 && (
        <Text size="xs" c="gray.7">
          {missing.length} not copied yet
        </Text>
      )}
    </Stack>
  );
}

/** Health and state in one badge: what an operator acts on. */
function StateBadge({ n }: { n: DlsNode }) {
  const [color, label] = !n.healthy
    ? n.state === 'stopped'
      ? ['gray', 'stopped']
      : ['red', 'down']
    : n.state === 'draining'
      ? ['orange', n.runningClients === 0 ? 'drained' : 'draining']
      : ['teal', 'up'];
  return (
    <Badge color={color} variant="light" c="dark.7" data-testid="node-state">
      {label}
    </Badge>
  );
}

/**
 * The DLS nodes sharing this database (`/nodes`): which node answers DHCP for which network range, how many running
 * clients each still serves, and — for admins — draining a node before maintenance, letting it take ranges again, and
 * forgetting one that is gone.
 */
export default function NodesPage() {
  const qc = useQueryClient();
  const nodes = useQuery({
    queryKey: ['nodes'],
    queryFn: () => call(api.GET('/api/v1/nodes')),
    // Hand-overs arrive as range.holder events (live invalidation); heartbeats and health are read every 5 s.
    refetchInterval: 5_000,
  });
  // Under the 'nodes' key: the version.replica and range.holder events refresh both.
  const replicas = useQuery({
    queryKey: ['nodes', 'replication'],
    queryFn: () => call(api.GET('/api/v1/replication', {})),
    refetchInterval: 5_000,
  });
  const [removing, setRemoving] = useState<DlsNode | null>(null);
  const refresh = () => qc.invalidateQueries({ queryKey: ['nodes'] });
  const setState = useMutation({
    mutationFn: ({ n, to }: { n: DlsNode; to: 'drain' | 'activate' }) =>
      to === 'drain'
        ? call(api.POST('/api/v1/nodes/{id}/drain', { params: { path: { id: n.id } } }))
        : call(api.POST('/api/v1/nodes/{id}/activate', { params: { path: { id: n.id } } })),
    onSuccess: (n, { to }) => {
      notifyDone(to === 'drain' ? `${n.name} is draining: its ranges go to the other nodes` : `${n.name} takes ranges again`);
      void refresh();
    },
    onError: (e) => notifyError(e),
  });

  const list = nodes.data ?? [];
  return (
    <Stack>
      <Title order={2}>Nodes</Title>
      <Text size="sm" c="gray.7">
        DLS processes sharing this database. Each network range is answered by one node at a time; when it stops renewing its hold, another node whose
        interface is on that network takes the range over. Every node keeps a checked copy of every image version, and takes no range before it has
        them all.
      </Text>
      {nodes.isError && (
        <Alert color="red.9" variant="outline" title="Nodes could not be loaded" role="alert">
          {nodes.error.message}
        </Alert>
      )}
      <Table data-testid="nodes-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Node</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Serves DHCP for</Table.Th>
            <Table.Th>Running clients</Table.Th>
            <Table.Th>Image versions</Table.Th>
            <Table.Th>Addresses</Table.Th>
            <Table.Th>Last heartbeat</Table.Th>
            <Can role="admin">
              <Table.Th>Actions</Table.Th>
            </Can>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.map((n) => (
            <Table.Tr key={n.id} data-testid={`node-${n.name}`}>
              <Table.Td>
                <Text size="sm" fw={600}>
                  {n.name}
                </Text>
                <Text size="xs" c="gray.7">
                  {n.self ? 'this node · ' : ''}v{n.version} · sized for {n.capacity} clients
                </Text>
              </Table.Td>
              <Table.Td>
                <StateBadge n={n} />
              </Table.Td>
              <Table.Td data-testid="node-ranges">{n.ranges.length === 0 ? '—' : n.ranges.map((r) => r.name).join(', ')}</Table.Td>
              <Table.Td>{n.runningClients}</Table.Td>
              <Table.Td data-testid="node-versions">
                <VersionsCell rows={(replicas.data ?? []).filter((r) => r.nodeId === n.id)} />
              </Table.Td>
              <Table.Td>
                <Text size="xs">{n.addresses.join(', ') || '—'}</Text>
              </Table.Td>
              <Table.Td>{formatTime(n.heartbeatAt)}</Table.Td>
              <Can role="admin">
                <Table.Td>
                  <Group gap="xs" wrap="nowrap">
                    {n.healthy && n.state === 'active' && (
                      <Button size="xs" variant="default" onClick={() => setState.mutate({ n, to: 'drain' })} loading={setState.isPending}>
                        Drain
                      </Button>
                    )}
                    {n.healthy && n.state === 'draining' && (
                      <Button size="xs" variant="default" onClick={() => setState.mutate({ n, to: 'activate' })} loading={setState.isPending}>
                        Activate
                      </Button>
                    )}
                    {!n.healthy && (
                      <Button size="xs" variant="default" color="red.9" onClick={() => setRemoving(n)}>
                        Remove
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </Can>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <ConfirmDelete
        what={`node ${removing?.name ?? ''}`}
        opened={removing !== null}
        onClose={() => setRemoving(null)}
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/nodes/{id}', { params: { path: { id: removing!.id } } }));
          notifyDone(`node ${removing!.name} removed`);
          setRemoving(null);
          await refresh();
        }}
      >
        <Text size="sm">It is down or stopped; if it starts again it registers anew.</Text>
      </ConfirmDelete>
    </Stack>
  );
}
