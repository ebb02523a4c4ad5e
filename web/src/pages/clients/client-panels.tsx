import { Badge, Box, Button, Code, Group, Modal, Paper, SimpleGrid, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiError, call } from '../../api/client';
import { Can } from '../../auth/auth';
import { formatBytes, formatMs, formatSeconds, formatTime } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { STAGES, stageSegments, totalMs } from './boot-stages';
import { ErrorAlert } from './error-alert';

/** How the firmware started a boot (from the DHCP request that opened the session). */
const FIRMWARE_LABEL: Record<'bios-pxe' | 'uefi-pxe' | 'uefi-http', string> = {
  'bios-pxe': 'BIOS PXE',
  'uefi-pxe': 'UEFI PXE',
  'uefi-http': 'UEFI HTTP',
};

/** The firmware path, with "Secure Boot" when DHCP handed the boot a signed loader. */
function firmwareLabel(s: { firmware: keyof typeof FIRMWARE_LABEL | null; secureBoot: boolean }): string {
  if (!s.firmware) return '—';
  return s.secureBoot ? `${FIRMWARE_LABEL[s.firmware]} · Secure Boot` : FIRMWARE_LABEL[s.firmware];
}

/** A 404 that means "there is none yet" rather than a failure. */
const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;

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

const STATUS_COLOR = { starting: 'gray', booting: 'indigo', running: 'teal', shutdown: 'gray', error: 'red' } as const;

/** Recent boot sessions with how long each stage took (a stacked bar and the figures). */
export function SessionHistory({ clientId }: { clientId: string }) {
  const sessions = useQuery({
    queryKey: ['boot-sessions', { clientId }],
    queryFn: () => call(api.GET('/api/v1/boot-sessions', { params: { query: { clientId, limit: 20, sort: '-startedAt' } } })),
  });
  const items = sessions.data?.items ?? [];
  const longest = Math.max(1, ...items.map((s) => totalMs(stageSegments(s.startedAt, s.stages))));
  return (
    <Paper withBorder p="md" data-testid="session-history">
      <Title order={3} size="h4" mb="sm">
        Boot sessions
      </Title>
      {sessions.error && <ErrorAlert>{sessions.error.message}</ErrorAlert>}
      {sessions.data && items.length === 0 && <Text c="gray.7">No boot yet.</Text>}
      {items.length > 0 && (
        <>
          <Group gap="xs" mb="xs" aria-label="Stage colours">
            {STAGES.map((s) => (
              <Group key={s.key} gap={4}>
                <Box w={12} h={12} bg={s.color} style={{ borderRadius: 2 }} />
                <Text size="xs">{s.label}</Text>
              </Group>
            ))}
          </Group>
          <Table striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Started</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Firmware</Table.Th>
                <Table.Th>Boot time</Table.Th>
                <Table.Th style={{ width: '45%' }}>Stages</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((s) => {
                const segs = stageSegments(s.startedAt, s.stages);
                const summary = segs.map((g) => `${g.label} ${formatMs(g.ms)}`).join(', ');
                return (
                  <Table.Tr key={s.id} data-testid="session-row">
                    <Table.Td>{formatTime(s.startedAt)}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" c="dark.8" color={STATUS_COLOR[s.status]}>
                        {s.status}
                      </Badge>
                      {s.errorMessage && (
                        <Text size="xs" c="red.9">
                          {s.errorMessage}
                        </Text>
                      )}
                    </Table.Td>
                    <Table.Td data-testid="session-firmware">{firmwareLabel(s)}</Table.Td>
                    <Table.Td>{formatSeconds(s.bootTimeSeconds)}</Table.Td>
                    <Table.Td>
                      {segs.length === 0 ? (
                        '—'
                      ) : (
                        <Stack gap={2}>
                          <Group gap={0} wrap="nowrap" role="img" aria-label={summary} h={12}>
                            {segs.map((g) => (
                              <Tooltip key={g.key} label={`${g.label}: ${formatMs(g.ms)}`}>
                                <Box h={12} bg={g.color} style={{ width: `${(g.ms / longest) * 100}%`, minWidth: 3 }} />
                              </Tooltip>
                            ))}
                          </Group>
                          <Text size="xs">{summary}</Text>
                        </Stack>
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </>
      )}
    </Paper>
  );
}

/** The client's copy-on-write disk: size, written bytes, policy; reset for operators. */
export function DiskPanel({ clientId, hostname }: { clientId: string; hostname: string }) {
  const qc = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const disk = useQuery({
    queryKey: ['clients', clientId, 'disk'],
    queryFn: () => call(api.GET('/api/v1/clients/{id}/disk', { params: { path: { id: clientId } } })),
    retry: (n, e) => !isNotFound(e) && n < 2,
  });
  const reset = useMutation({
    mutationFn: () => call(api.POST('/api/v1/clients/{id}/disk/reset', { params: { path: { id: clientId } } })),
    onSuccess: () => {
      notifyDone(`The disk of ${hostname} was reset`);
      void qc.invalidateQueries({ queryKey: ['clients', clientId, 'disk'] });
    },
    onError: (e) => notifyError(e, 'Disk reset failed'),
  });
  const d = disk.data;
  return (
    <Paper withBorder p="md" data-testid="disk-panel">
      <Group justify="space-between" mb="sm">
        <Title order={3} size="h4">
          Disk
        </Title>
        <Can role="operator">
          <Button variant="default" c="red.9" onClick={() => setConfirm(true)} loading={reset.isPending}>
            Reset disk
          </Button>
        </Can>
      </Group>
      {isNotFound(disk.error) && <Text c="gray.7">No disk yet: it is made from the version the client boots at its next boot.</Text>}
      {disk.error && !isNotFound(disk.error) && <ErrorAlert>{disk.error.message}</ErrorAlert>}
      {d && (
        <SimpleGrid cols={{ base: 2, md: 4 }}>
          <Field label="Size">{formatBytes(d.sizeBytes)}</Field>
          <Field label="Written by the client">{formatBytes(d.writtenBytes)}</Field>
          <Field label="Policy">{d.policy === 'reset' ? 'reset at each boot' : 'persistent'}</Field>
          <Field label="Version">{d.versionName}</Field>
          <Field label="State">{d.state}</Field>
          <Field label="Created">{formatTime(d.createdAt)}</Field>
          {d.isMaintenance && <Field label="Maintenance">yes (its content can be committed as a version)</Field>}
          <Field label="Path">
            <Code>{d.path}</Code>
          </Field>
        </SimpleGrid>
      )}
      <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={confirm} onClose={() => setConfirm(false)} title="Reset disk">
        <Stack>
          <Text>Discard everything {hostname} wrote to its disk? It gets a fresh copy of its version.</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(false)}>
              Cancel
            </Button>
            <Button
              color="red.9"
              onClick={() => {
                setConfirm(false);
                reset.mutate();
              }}
            >
              Reset the disk
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Paper>
  );
}

/** Where the client's disk is exported (admins only: the CHAP secret stays hidden until asked for). */
export function IscsiPanel({ clientId }: { clientId: string }) {
  const [reveal, setReveal] = useState(false);
  const info = useQuery({
    queryKey: ['clients', clientId, 'iscsi'],
    queryFn: () => call(api.GET('/api/v1/clients/{id}/iscsi', { params: { path: { id: clientId } } })),
    retry: (n, e) => !isNotFound(e) && n < 2,
  });
  const i = info.data;
  return (
    <Paper withBorder p="md" data-testid="iscsi-panel">
      <Title order={3} size="h4" mb="sm">
        iSCSI
      </Title>
      {isNotFound(info.error) && <Text c="gray.7">Not exported: {info.error?.message}</Text>}
      {info.error && !isNotFound(info.error) && <ErrorAlert>{info.error.message}</ErrorAlert>}
      {i && (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <Field label="Target IQN">
            <Code>{i.targetIqn}</Code>
          </Field>
          <Field label="Portal">
            <Code>
              {i.portal.address}:{i.portal.port}
            </Code>{' '}
            LUN {i.lun}, tid {i.tid}
          </Field>
          <Field label="Initiator name">
            <Code>{i.initiatorIqn}</Code>
          </Field>
          <Field label="CHAP user">
            <Code>{i.chapUser}</Code>
          </Field>
          <Field label="CHAP password">
            {i.chapSecret == null ? (
              'none (no open boot session)'
            ) : (
              <Group gap="xs">
                <Code data-testid="chap-secret">{reveal ? i.chapSecret : '••••••••'}</Code>
                <Button size="compact-xs" variant="light" onClick={() => setReveal((r) => !r)}>
                  {reveal ? 'Hide' : 'Show'}
                </Button>
              </Group>
            )}
          </Field>
          <Field label="Backing disk">
            <Code>{i.backingPath}</Code>
          </Field>
        </SimpleGrid>
      )}
    </Paper>
  );
}
