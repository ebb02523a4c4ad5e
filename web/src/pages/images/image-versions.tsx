import { Badge, Button, Group, Paper, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, call, type Schemas } from '../../api/client';
import { Can } from '../../auth/auth';
import { formatBytes, formatTime } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { DeleteRefused } from './image-parts';

type Image = Schemas['ImageResponseDto'];
type Version = Schemas['SnapshotResponseDto'];

/** The image's versions: make one, publish one, roll back (publish an older one), delete (409s explained). */
export function ImageVersions({ image }: { image: Image }) {
  const qc = useQueryClient();
  const versions = useQuery({
    queryKey: ['snapshots', image.id],
    queryFn: () => call(api.GET('/api/v1/images/{imageId}/snapshots', { params: { path: { imageId: image.id }, query: { limit: 500 } } })),
  });
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ['snapshots'] });
    void qc.invalidateQueries({ queryKey: ['images'] });
  };
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [createError, setCreateError] = useState<string | null>(null);
  const [refused, setRefused] = useState<{ error: ApiError; version: string } | null>(null);

  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/images/{imageId}/snapshots', {
          params: { path: { imageId: image.id } },
          body: { name, description: description || undefined } as Schemas['CreateSnapshotDto'],
        }),
      ),
    onSuccess: (v) => {
      notifyDone(`Version ${v.name} made`);
      setName('');
      setDescription('');
      setCreateError(null);
      refresh();
    },
    onError: (e) => {
      setCreateError(e instanceof Error ? e.message : String(e));
      notifyError(e, 'Could not make a version');
    },
  });
  const publish = useMutation({
    mutationFn: (v: Version) =>
      call(api.POST('/api/v1/images/{imageId}/snapshots/{snapshotId}/publish', { params: { path: { imageId: image.id, snapshotId: v.id } } })),
    onSuccess: (v) => {
      notifyDone(`Version ${v.name} is published`);
      refresh();
    },
    onError: (e) => notifyError(e, 'Could not publish'),
  });
  const remove = useMutation({
    mutationFn: async (v: Version) => {
      await call(api.DELETE('/api/v1/images/{imageId}/snapshots/{snapshotId}', { params: { path: { imageId: image.id, snapshotId: v.id } } }));
      return v;
    },
    onSuccess: (v) => {
      setRefused(null);
      notifyDone(`Version ${v.name} deleted`);
      refresh();
    },
    onError: (e, v) => {
      if (e instanceof ApiError && e.status === 409) setRefused({ error: e, version: v.name });
      else notifyError(e, 'Could not delete the version');
    },
  });

  const items = [...(versions.data?.items ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const published = items.find((v) => v.isPublished);

  return (
    <Paper withBorder p="md">
      <Stack>
        <Title order={3}>Versions</Title>
        <Text size="sm" c="gray.7">
          Clients boot the published version (unless pinned). Rolling back publishes an older version.
        </Text>
        <Can role="operator">
          <form
            onSubmit={(e) => {
              e.preventDefault();
              create.mutate();
            }}
          >
            <Group align="flex-end">
              <TextInput
                label="New version name"
                placeholder="v2026-05-01"
                value={name}
                onChange={(e) => setName(e.currentTarget.value)}
                error={createError}
              />
              <TextInput
                label="Version description"
                placeholder="after May patches"
                value={description}
                onChange={(e) => setDescription(e.currentTarget.value)}
              />
              <Button type="submit" loading={create.isPending} disabled={image.contentStatus !== 'ready'}>
                Make version
              </Button>
            </Group>
          </form>
        </Can>
        {refused && (
          <DeleteRefused
            error={refused.error}
            what={`Version ${refused.version}`}
            hint={
              refused.error.code === 'PUBLISHED_VERSION'
                ? 'Publish another version first (or roll back to an older one); then this one can go.'
                : undefined
            }
            onClose={() => setRefused(null)}
          />
        )}
        <Table striped data-testid="versions-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Version</Table.Th>
              <Table.Th>Description</Table.Th>
              <Table.Th>Size</Table.Th>
              <Table.Th>Made</Table.Th>
              <Table.Th>Published</Table.Th>
              <Table.Th>Actions</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((v) => {
              const older = !!published && !v.isPublished && v.createdAt < published.createdAt;
              return (
                <Table.Tr key={v.id} data-testid={`version-row-${v.name}`} data-published={v.isPublished}>
                  <Table.Td>
                    <Text fw={v.isPublished ? 700 : undefined}>{v.name}</Text>
                  </Table.Td>
                  <Table.Td>{v.description ?? '—'}</Table.Td>
                  <Table.Td>{formatBytes(v.sizeBytes)}</Table.Td>
                  <Table.Td>{formatTime(v.createdAt)}</Table.Td>
                  <Table.Td>
                    {v.isPublished ? (
                      <Badge color="teal" variant="light" title={v.publishedAt ? `since ${formatTime(v.publishedAt)}` : undefined}>
                        published
                      </Badge>
                    ) : v.publishedAt ? (
                      <Text size="sm" c="gray.7">
                        was, {formatTime(v.publishedAt)}
                      </Text>
                    ) : (
                      '—'
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Can role="operator">
                      <Group gap="xs">
                        {!v.isPublished && (
                          <Button
                            size="xs"
                            variant={older ? 'outline' : 'filled'}
                            onClick={() => publish.mutate(v)}
                            loading={publish.isPending && publish.variables?.id === v.id}
                          >
                            {older ? 'Roll back to this' : 'Publish'}
                          </Button>
                        )}
                        <Button
                          size="xs"
                          color="red"
                          variant="light"
                          onClick={() => {
                            if (window.confirm(`Delete version ${v.name}?`)) remove.mutate(v);
                          }}
                          loading={remove.isPending && remove.variables?.id === v.id}
                          aria-label={`Delete version ${v.name}`}
                        >
                          Delete
                        </Button>
                      </Group>
                    </Can>
                  </Table.Td>
                </Table.Tr>
              );
            })}
            {versions.data && items.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={6}>
                  <Text c="gray.7">
                    No version yet{image.contentStatus === 'ready' ? ': make one from the current content.' : ': give the image content first.'}
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
          </Table.Tbody>
        </Table>
      </Stack>
    </Paper>
  );
}
