import {
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Loader,
  Modal,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  TagsInput,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, ApiError, call, ifMatch, type Schemas } from '../../api/client';
import { Can } from '../../auth/auth';
import { formatBytes, formatTime } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { ImageContent } from './image-content';
import { ImageMaintenance } from './image-maintenance';
import { DeleteRefused, StatusBadge } from './image-parts';
import { ImageVersions } from './image-versions';

type Image = Schemas['ImageResponseDto'];

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="gray.7">
        {label}
      </Text>
      <Text size="sm" component="div">
        {children}
      </Text>
    </div>
  );
}

/** Edits name, OS, description, tags, disk policy and template flag against the version shown (If-Match; 412 explained). */
function EditImage({ image, onDone }: { image: Image; onDone: () => void }) {
  const qc = useQueryClient();
  const [name, setName] = useState(image.name);
  const [osType, setOsType] = useState(image.osType ?? '');
  const [description, setDescription] = useState(image.description ?? '');
  const [tags, setTags] = useState<string[]>(image.tags);
  const [policy, setPolicy] = useState(image.defaultDiskPolicy);
  const [isTemplate, setTemplate] = useState(image.isTemplate);
  const [error, setError] = useState<ApiError | null>(null);
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PATCH('/api/v1/images/{id}', {
          params: { path: { id: image.id }, header: ifMatch(image.version) },
          body: {
            name,
            osType: osType || null,
            description: description || null,
            tags,
            defaultDiskPolicy: policy,
            isTemplate,
          } as unknown as Schemas['UpdateImageDto'],
        }),
      ),
    onSuccess: (img) => {
      qc.setQueryData(['images', img.id], img);
      void qc.invalidateQueries({ queryKey: ['images'] });
      notifyDone(`Saved ${img.name}`);
      onDone();
    },
    onError: (e) => {
      setError(e instanceof ApiError ? e : new ApiError(0, 'ERROR', String(e)));
      if (!(e instanceof ApiError && e.status === 412)) notifyError(e, 'Could not save');
    },
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        save.mutate();
      }}
    >
      <Stack>
        {error?.status === 412 ? (
          <Alert color="orange" title="Changed elsewhere" role="alert" data-testid="edit-conflict">
            <Text size="sm">Someone changed this image since you opened it, so your edit was not saved. Reload it and redo the change.</Text>
            <Button
              mt="xs"
              size="xs"
              variant="default"
              onClick={() => {
                void qc.invalidateQueries({ queryKey: ['images', image.id] });
                onDone();
              }}
            >
              Reload
            </Button>
          </Alert>
        ) : (
          error && (
            <Alert color="red" title={`${error.status} ${error.code}`} role="alert">
              {error.message}
            </Alert>
          )
        )}
        <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <TextInput label="OS type" value={osType} onChange={(e) => setOsType(e.currentTarget.value)} />
        <Textarea label="Description" value={description} onChange={(e) => setDescription(e.currentTarget.value)} autosize minRows={2} />
        <TagsInput label="Tags" value={tags} onChange={setTags} />
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
        <Switch label="Template (a starting point for other images)" checked={isTemplate} onChange={(e) => setTemplate(e.currentTarget.checked)} />
        <Group justify="flex-end">
          <Button type="submit" loading={save.isPending}>
            Save
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export default function ImagePage() {
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const qc = useQueryClient();
  // The form edits the version shown when it opened: a change elsewhere meanwhile gives 412, not a silent reset.
  const [editBase, setEditBase] = useState<Image | null>(null);
  const image = useQuery({
    queryKey: ['images', id],
    queryFn: () => call(api.GET('/api/v1/images/{id}', { params: { path: { id } } })),
    retry: false,
  });
  const remove = useMutation({
    mutationFn: () => call(api.DELETE('/api/v1/images/{id}', { params: { path: { id } } })),
    onSuccess: () => {
      notifyDone(`Image ${image.data?.name} deleted`);
      void qc.invalidateQueries({ queryKey: ['images'] });
      void navigate('/images');
    },
    onError: (e) => {
      if (e instanceof ApiError && e.status === 409) setRefused(e);
      else notifyError(e, 'Could not delete the image');
    },
  });
  const [refused, setRefused] = useState<ApiError | null>(null);

  if (image.isPending) return <Loader aria-label="Loading image" />;
  if (image.error || !image.data) {
    return (
      <Stack>
        <Anchor component={Link} to="/images">
          ← Images
        </Anchor>
        <Alert color="red" title="Could not load the image">
          {image.error?.message}
        </Alert>
      </Stack>
    );
  }
  const img = image.data;
  return (
    <Stack>
      <Anchor component={Link} to="/images" size="sm">
        ← Images
      </Anchor>
      <Group justify="space-between">
        <Group>
          <Title order={2}>{img.name}</Title>
          <StatusBadge image={img} />
          {img.maintenanceClientId && (
            <Badge variant="light" color="orange">
              in maintenance
            </Badge>
          )}
        </Group>
        <Can role="admin">
          <Group>
            <Button variant="default" onClick={() => setEditBase(img)}>
              Edit
            </Button>
            <Button
              color="red"
              variant="light"
              onClick={() => {
                if (window.confirm(`Delete image ${img.name} and its storage?`)) remove.mutate();
              }}
              loading={remove.isPending}
            >
              Delete image
            </Button>
          </Group>
        </Can>
      </Group>
      {refused && (
        <DeleteRefused
          error={refused}
          what={`Image ${img.name}`}
          hint={refused.code === 'IMAGE_HAS_VERSIONS' ? 'Delete its versions first.' : undefined}
          onClose={() => setRefused(null)}
        />
      )}
      <Paper withBorder p="md">
        <SimpleGrid cols={{ base: 2, md: 4 }}>
          <Field label="OS type">{img.osType ?? '—'}</Field>
          <Field label="Format">{img.format}</Field>
          <Field label="Size">{formatBytes(img.sizeBytes)}</Field>
          <Field label="Default disk policy">{img.defaultDiskPolicy}</Field>
          <Field label="Tags">{img.tags.length ? img.tags.join(', ') : '—'}</Field>
          <Field label="Template">{img.isTemplate ? 'yes' : 'no'}</Field>
          <Field label="Created">{formatTime(img.createdAt)}</Field>
          <Field label="Updated">{formatTime(img.updatedAt)}</Field>
          <Field label="Disk path">
            <Code>{img.path}</Code>
          </Field>
          <Field label="SHA-256 of the content">{img.contentSha256 ? <Code>{img.contentSha256.slice(0, 16)}…</Code> : '—'}</Field>
          {img.parentImageId && (
            <Field label="Cloned from">
              <Anchor component={Link} to={`/images/${img.parentImageId}`}>
                parent image
              </Anchor>
            </Field>
          )}
          <Field label="Record version">{img.version}</Field>
        </SimpleGrid>
        {img.description && (
          <Text size="sm" mt="sm">
            {img.description}
          </Text>
        )}
      </Paper>
      <Can role="admin">
        <ImageContent image={img} />
      </Can>
      <ImageVersions image={img} />
      <Can role="operator">
        <ImageMaintenance image={img} />
      </Can>
      <Modal opened={!!editBase} onClose={() => setEditBase(null)} title={`Edit ${img.name}`} size="lg">
        {editBase && <EditImage image={editBase} onDone={() => setEditBase(null)} />}
      </Modal>
    </Stack>
  );
}
