import { Alert, Button, FileInput, Group, NumberInput, Paper, Progress, Select, Stack, Tabs, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useReducer, useRef, useState } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { useEvent } from '../../events/hooks';
import { formatBytes } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { contentProgress, formatFromFileName, IDLE, percentOf, type DiskFormat } from './images-logic';
import { uploadContent, type UploadHandle } from './upload';

type Image = Schemas['ImageResponseDto'];
const FORMATS = ['raw', 'qcow2', 'vhdx'];

/**
 * The image's disk content (admin): upload a file with a bar of the bytes the browser sent, then the server's import
 * progress from `image.import` events; or a blank disk; or a file already on the server (DLS_IMPORT_DIR).
 */
export function ImageContent({ image }: { image: Image }) {
  const qc = useQueryClient();
  const [state, dispatch] = useReducer(contentProgress, IDLE);
  const [file, setFile] = useState<File | null>(null);
  const [format, setFormat] = useState<DiskFormat>('raw');
  const handle = useRef<UploadHandle | null>(null);
  const refresh = () => void qc.invalidateQueries({ queryKey: ['images'] });

  useEffect(() => () => handle.current?.abort(), []);

  useEvent('image.import', (e) => {
    if (e.body.imageId !== image.id) return;
    dispatch({ type: 'import-event', phase: e.body.phase, percent: e.body.percent, error: e.body.error });
  });

  const start = () => {
    if (!file) return;
    dispatch({ type: 'upload-start', total: file.size });
    const h = uploadContent(image.id, file, format, (sent, total) => {
      dispatch({ type: 'upload-progress', sent, total });
      if (sent >= total) dispatch({ type: 'upload-sent' });
    });
    handle.current = h;
    h.done.then(
      (img) => {
        dispatch({ type: 'request-done' });
        notifyDone(`Uploaded ${file.name}: ${img.name} is ${img.contentStatus}`);
        refresh();
      },
      (e: unknown) => {
        dispatch({ type: 'request-failed', error: e instanceof Error ? e.message : String(e) });
        notifyError(e, 'Upload failed');
        refresh();
      },
    );
  };

  const [blankGiB, setBlankGiB] = useState<number | string>(Math.max(1, Math.round(image.sizeBytes / 1024 ** 3)) || 32);
  const blank = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/images/{id}/content/blank', {
          params: { path: { id: image.id } },
          body: { sizeBytes: Math.round(Number(blankGiB) * 1024 ** 3) },
        }),
      ),
    onSuccess: () => {
      notifyDone('Blank disk created');
      refresh();
    },
    onError: (e) => notifyError(e, 'Could not create a blank disk'),
  });

  const [path, setPath] = useState('');
  const [pathFormat, setPathFormat] = useState<DiskFormat>('raw');
  const importPath = useMutation({
    mutationFn: () => {
      dispatch({ type: 'reset' });
      return call(api.POST('/api/v1/images/{id}/import', { params: { path: { id: image.id } }, body: { path, format: pathFormat } }));
    },
    onSuccess: () => {
      dispatch({ type: 'request-done' });
      notifyDone('Imported');
      refresh();
    },
    onError: (e) => {
      dispatch({ type: 'request-failed', error: e instanceof Error ? e.message : String(e) });
      notifyError(e, 'Import failed');
    },
  });

  const busy = state.phase === 'uploading' || state.phase === 'importing' || blank.isPending || importPath.isPending;
  const uploadPct = percentOf(state.sent, state.total);
  const importPct = state.importPercent ?? (state.phase === 'done' ? 100 : 0);

  return (
    <Paper withBorder p="md">
      <Stack>
        <Title order={3}>Content</Title>
        <Text size="sm">
          {image.contentStatus === 'ready'
            ? `The image has a disk of ${formatBytes(image.sizeBytes)}. New content replaces it (versions already made keep theirs).`
            : image.contentStatus === 'importing'
              ? 'Content is being imported.'
              : 'The image has no disk yet: upload one, start from a blank disk, or import a file on the server.'}
        </Text>
        {image.contentStatus === 'failed' && image.contentError && (
          <Alert color="red" title="The last import failed">
            {image.contentError}
          </Alert>
        )}
        <Tabs defaultValue="upload">
          <Tabs.List>
            <Tabs.Tab value="upload">Upload a file</Tabs.Tab>
            <Tabs.Tab value="blank">Blank disk</Tabs.Tab>
            <Tabs.Tab value="import">From the server</Tabs.Tab>
          </Tabs.List>
          <Tabs.Panel value="upload" pt="sm">
            <Group align="flex-end">
              <FileInput
                label="Disk file (raw, qcow2 or vhdx)"
                placeholder="choose a file"
                value={file}
                onChange={(f) => {
                  setFile(f);
                  if (f) setFormat(formatFromFileName(f.name));
                  dispatch({ type: 'reset' });
                }}
                clearable
                clearButtonProps={{ 'aria-label': 'Clear the chosen file' }}
                w={320}
                data-testid="disk-file"
                disabled={busy}
              />
              <Select
                label="Format"
                data={FORMATS}
                value={format}
                onChange={(v) => setFormat((v as DiskFormat) ?? 'raw')}
                allowDeselect={false}
                w={120}
              />
              <Button onClick={start} disabled={!file || busy}>
                Upload
              </Button>
              {state.phase === 'uploading' && (
                <Button variant="default" onClick={() => handle.current?.abort()}>
                  Cancel upload
                </Button>
              )}
            </Group>
          </Tabs.Panel>
          <Tabs.Panel value="blank" pt="sm">
            <Group align="flex-end">
              <NumberInput label="Size of the blank disk (GiB)" min={0} value={blankGiB} onChange={setBlankGiB} w={220} />
              <Button onClick={() => blank.mutate()} loading={blank.isPending} disabled={busy}>
                Create blank disk
              </Button>
            </Group>
          </Tabs.Panel>
          <Tabs.Panel value="import" pt="sm">
            <Group align="flex-end">
              <TextInput
                label="Path on the DLS server (inside DLS_IMPORT_DIR)"
                placeholder="/var/lib/dls/import/win11.qcow2"
                value={path}
                onChange={(e) => {
                  setPath(e.currentTarget.value);
                  setPathFormat(formatFromFileName(e.currentTarget.value));
                }}
                w={380}
              />
              <Select
                label="Format"
                data={FORMATS}
                value={pathFormat}
                onChange={(v) => setPathFormat((v as DiskFormat) ?? 'raw')}
                allowDeselect={false}
                w={120}
              />
              <Button onClick={() => importPath.mutate()} loading={importPath.isPending} disabled={!path || busy}>
                Import
              </Button>
            </Group>
          </Tabs.Panel>
        </Tabs>
        {state.phase !== 'idle' && (
          <Stack gap="xs" data-testid="content-progress" data-phase={state.phase}>
            {state.total != null && (
              <div>
                <Text size="sm" id="upload-progress-label">
                  Sent {formatBytes(state.sent)} of {formatBytes(state.total)} ({uploadPct}%)
                </Text>
                <Progress.Root size="lg" data-testid="upload-progress" data-value={uploadPct}>
                  <Progress.Section value={uploadPct} aria-labelledby="upload-progress-label" animated={state.phase === 'uploading'} />
                </Progress.Root>
              </div>
            )}
            <div>
              <Text size="sm" id="import-progress-label">
                {state.phase === 'uploading' && state.importPercent == null
                  ? 'Import: waiting for the file'
                  : state.phase === 'done'
                    ? 'Import finished: the content is ready'
                    : state.phase === 'failed'
                      ? 'Import failed'
                      : `Importing on the server: ${importPct}%`}
              </Text>
              <Progress.Root size="lg" data-testid="import-progress" data-value={importPct}>
                <Progress.Section value={importPct} color={state.phase === 'failed' ? 'red' : 'teal.8'} aria-labelledby="import-progress-label" />
              </Progress.Root>
            </div>
            {state.error && (
              <Alert color="red" title="Not imported" role="alert">
                {state.error}
              </Alert>
            )}
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}
