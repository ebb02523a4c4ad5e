import { Alert, Anchor, Badge, Button, Group, Modal, NumberInput, Select, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useDebouncedValue, useDisclosure } from '@mantine/hooks';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, ApiError, call, type Schemas } from '../../api/client';
import { Can } from '../../auth/auth';
import { formatAgo, formatBytes } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { StatusBadge } from './image-parts';

type Image = Schemas['ImageResponseDto'];

/** The published version of an image (a small query per row; live through 'snapshots' change events). */
function PublishedVersion({ imageId }: { imageId: string }) {
  const q = useQuery({
    queryKey: ['snapshots', imageId],
    queryFn: () => call(api.GET('/api/v1/images/{imageId}/snapshots', { params: { path: { imageId }, query: { limit: 500 } } })),
  });
  if (!q.data) return <Text c="gray.7">…</Text>;
  const published = q.data.items.find((s) => s.isPublished);
  return published ? (
    <Text size="sm">{published.name}</Text>
  ) : (
    <Text size="sm" c="gray.7">
      none
    </Text>
  );
}

/** How many clients are assigned to the image (the page total of a one-row query). */
function ClientCount({ imageId }: { imageId: string }) {
  const q = useQuery({
    queryKey: ['clients', { imageId, limit: 1 }],
    queryFn: () => call(api.GET('/api/v1/clients', { params: { query: { imageId, limit: 1 } } })),
  });
  return <Text size="sm">{q.data ? q.data.total : '…'}</Text>;
}

function CreateImageForm({ onDone }: { onDone: (image: Image) => void }) {
  const [name, setName] = useState('');
  const [osType, setOsType] = useState('');
  const [description, setDescription] = useState('');
  const [sizeGiB, setSizeGiB] = useState<number | string>(32);
  const [format, setFormat] = useState<'raw' | 'qcow2' | 'vhdx'>('raw');
  const [policy, setPolicy] = useState<'reset' | 'persistent'>('reset');
  const [error, setError] = useState<ApiError | null>(null);
  const qc = useQueryClient();
  const create = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/images', {
          body: {
            name,
            osType: osType || undefined,
            description: description || undefined,
            sizeBytes: Math.round(Number(sizeGiB) * 1024 ** 3),
            format,
            defaultDiskPolicy: policy,
          } as Schemas['CreateImageDto'],
        }),
      ),
    onSuccess: (image) => {
      void qc.invalidateQueries({ queryKey: ['images'] });
      notifyDone(`Image ${image.name} created`);
      onDone(image);
    },
    onError: (e) => {
      setError(e instanceof ApiError ? e : new ApiError(0, 'ERROR', String(e)));
      notifyError(e, 'Could not create the image');
    },
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        create.mutate();
      }}
    >
      <Stack>
        {error && (
          <Alert color="red" title={`${error.status} ${error.code}`} data-testid="create-image-error" role="alert">
            {error.message}
          </Alert>
        )}
        <TextInput
          label="Name"
          description="letters, digits, dots, dashes; at most 255 characters"
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <TextInput label="OS type" placeholder="windows, linux…" value={osType} onChange={(e) => setOsType(e.currentTarget.value)} />
        <Textarea label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} autosize minRows={1} />
        <Group grow>
          <NumberInput label="Virtual size (GiB)" min={0} value={sizeGiB} onChange={setSizeGiB} />
          <Select
            label="Format"
            data={['raw', 'qcow2', 'vhdx']}
            value={format}
            onChange={(v) => setFormat((v as typeof format) ?? 'raw')}
            allowDeselect={false}
          />
          <Select
            label="Default disk policy"
            data={[
              { value: 'reset', label: 'reset (fresh disk each boot)' },
              { value: 'persistent', label: 'persistent' },
            ]}
            value={policy}
            onChange={(v) => setPolicy((v as typeof policy) ?? 'reset')}
            allowDeselect={false}
          />
        </Group>
        <Group justify="flex-end">
          <Button type="submit" loading={create.isPending}>
            Create image
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export default function ImagesPage() {
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 250);
  const [opened, { open, close }] = useDisclosure(false);
  const navigate = useNavigate();
  const images = useQuery({
    queryKey: ['images', { q, limit: 500 }],
    queryFn: () => call(api.GET('/api/v1/images', { params: { query: { q: q || undefined, limit: 500, sort: 'name' } } })),
  });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Images</Title>
        <Group>
          <Anchor component={Link} to="/storage">
            Storage
          </Anchor>
          <Can role="admin">
            <Button onClick={open}>New image</Button>
          </Can>
        </Group>
      </Group>
      <TextInput label="Search by name" placeholder="name prefix" value={search} onChange={(e) => setSearch(e.currentTarget.value)} maw={320} />
      {images.error && (
        <Alert color="red" title="Could not load images">
          {images.error.message}
        </Alert>
      )}
      <Table striped highlightOnHover data-testid="images-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>OS</Table.Th>
            <Table.Th>Format</Table.Th>
            <Table.Th>Content</Table.Th>
            <Table.Th>Size</Table.Th>
            <Table.Th>Published version</Table.Th>
            <Table.Th>Clients</Table.Th>
            <Table.Th>Updated</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {images.data?.items.map((img) => (
            <Table.Tr key={img.id} data-testid={`image-row-${img.name}`}>
              <Table.Td>
                <Anchor component={Link} to={`/images/${img.id}`}>
                  {img.name}
                </Anchor>
                {img.isTemplate && (
                  <Badge ml="xs" variant="light" color="gray" size="sm">
                    template
                  </Badge>
                )}
              </Table.Td>
              <Table.Td>{img.osType ?? '—'}</Table.Td>
              <Table.Td>{img.format}</Table.Td>
              <Table.Td>
                <StatusBadge image={img} />
              </Table.Td>
              <Table.Td>{formatBytes(img.sizeBytes)}</Table.Td>
              <Table.Td>
                <PublishedVersion imageId={img.id} />
              </Table.Td>
              <Table.Td>
                <ClientCount imageId={img.id} />
              </Table.Td>
              <Table.Td title={img.updatedAt}>{formatAgo(img.updatedAt)}</Table.Td>
            </Table.Tr>
          ))}
          {images.data?.items.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={8}>
                <Text c="gray.7">No images{q ? ` named ${q}…` : ''}.</Text>
              </Table.Td>
            </Table.Tr>
          )}
        </Table.Tbody>
      </Table>
      {images.data && images.data.total > images.data.items.length && (
        <Text size="sm" c="gray.7">
          Showing {images.data.items.length} of {images.data.total}: narrow the search.
        </Text>
      )}
      <Modal opened={opened} onClose={close} title="New image" size="lg">
        <CreateImageForm
          onDone={(image) => {
            close();
            void navigate(`/images/${image.id}`);
          }}
        />
      </Modal>
    </Stack>
  );
}
