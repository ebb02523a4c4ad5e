import { Alert, Button, Checkbox, Group, Loader, Modal, SegmentedControl, Select, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { api, call, ifMatch, type Schemas } from '../../api/client';
import { Can, useCan } from '../../auth/auth';
import { formatTime } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { dayLabel, describeWhen, scheduleBody, WEEKDAYS, type ScheduleForm } from './admin-forms';
import { ConfirmDelete, FormAlert, isStale, StaleAlert, useFormErrors, useRecordSave } from './admin-ui';

type Schedule = Schemas['WakeScheduleResponseDto'];

const FIELDS = ['groupId', 'days', 'time', 'cron', 'timezone', 'enabled'] as const;
const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function formOf(s: Schedule | null): ScheduleForm {
  if (!s)
    return { groupId: '', kind: 'days', days: ['mon', 'tue', 'wed', 'thu', 'fri'], time: '07:45', cron: '', timezone: browserZone(), enabled: true };
  const simple = !!(s.days?.length && s.time);
  return {
    groupId: s.groupId,
    kind: simple ? 'days' : 'cron',
    days: s.days ?? [],
    time: s.time ?? '',
    cron: s.cron,
    timezone: s.timezone,
    enabled: s.enabled,
  };
}

function useGroups() {
  return useQuery({
    queryKey: ['client-groups', 'all'],
    queryFn: () => call(api.GET('/api/v1/client-groups', { params: { query: { limit: 500, sort: 'name' } } })),
  });
}

function ScheduleModal({ schedule, onClose }: { schedule: Schedule | null; onClose: () => void }) {
  const groups = useGroups();
  const [record, setRecord] = useState<Schedule | null>(schedule);
  const [form, setForm] = useState<ScheduleForm>(formOf(schedule));
  const errs = useFormErrors(FIELDS);
  const zones = useMemo(() => {
    const all = Intl.supportedValuesOf('timeZone');
    return all.includes('UTC') ? all : ['UTC', ...all];
  }, []);
  const set = <K extends keyof ScheduleForm>(k: K, v: ScheduleForm[K]) => setForm((f) => ({ ...f, [k]: v }));

  const {
    busy,
    stale,
    submit: save,
  } = useRecordSave({
    queryKey: 'wake-schedules',
    record,
    errs,
    create: () => call(api.POST('/api/v1/wake-schedules', { body: scheduleBody(form) })),
    update: (r) =>
      call(api.PATCH('/api/v1/wake-schedules/{id}', { params: { path: { id: r.id }, header: ifMatch(r.version) }, body: scheduleBody(form) })),
    reload: (r) => call(api.GET('/api/v1/wake-schedules/{id}', { params: { path: { id: r.id } } })),
    onReloaded: (fresh) => {
      setRecord(fresh);
      setForm(formOf(fresh));
    },
    onSaved: onClose,
  });
  const submit = () => save(record ? 'Schedule saved' : 'Schedule created');

  return (
    <Modal
      closeButtonProps={{ 'aria-label': 'Close' }}
      opened
      onClose={onClose}
      title={record ? 'Edit wake schedule' : 'New wake schedule'}
      size="lg"
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Stack gap="sm">
          <StaleAlert show={stale} />
          <Select
            label="Group"
            description="whose members are woken"
            placeholder="Choose a group"
            required
            searchable
            data={(groups.data?.items ?? []).map((g) => ({ value: g.id, label: g.name }))}
            value={form.groupId || null}
            onChange={(v) => set('groupId', v ?? '')}
            error={errs.field('groupId')}
          />
          <SegmentedControl
            aria-label="How to say when"
            data={[
              { value: 'days', label: 'Days and time' },
              { value: 'cron', label: 'Cron expression' },
            ]}
            value={form.kind}
            onChange={(v) => set('kind', v as ScheduleForm['kind'])}
          />
          {form.kind === 'days' ? (
            <>
              <Checkbox.Group label="Days" value={form.days} onChange={(v) => set('days', v)} error={errs.field('days')}>
                <Group gap="md" mt={4}>
                  {WEEKDAYS.map((d) => (
                    <Checkbox key={d} value={d} label={dayLabel(d)} />
                  ))}
                </Group>
              </Checkbox.Group>
              <TextInput
                label="Time"
                description="HH:MM, 24-hour"
                placeholder="07:45"
                value={form.time}
                onChange={(e) => set('time', e.currentTarget.value)}
                error={errs.field('time')}
                w={160}
              />
            </>
          ) : (
            <TextInput
              label="Cron"
              description="minute hour day-of-month month day-of-week"
              placeholder="45 7 * * 1-5"
              value={form.cron}
              onChange={(e) => set('cron', e.currentTarget.value)}
              error={errs.field('cron')}
            />
          )}
          <Select
            label="Time zone"
            description="the schedule follows its daylight saving"
            searchable
            data={zones}
            value={form.timezone}
            onChange={(v) => set('timezone', v ?? '')}
            allowDeselect={false}
            error={errs.field('timezone')}
          />
          <Switch label="Enabled" checked={form.enabled} onChange={(e) => set('enabled', e.currentTarget.checked)} />
          <FormAlert errors={errs.errors} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              {record ? 'Save' : 'Create'}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Enable/disable in place (If-Match: a stale row says so and reloads). */
function EnabledSwitch({ s, label }: { s: Schedule; label: string }) {
  const qc = useQueryClient();
  const [busy, setBusy] = useState(false);
  return (
    <Switch
      aria-label={`Enabled: ${label}`}
      checked={s.enabled}
      disabled={busy}
      onChange={(e) => {
        const enabled = e.currentTarget.checked;
        setBusy(true);
        call(api.PATCH('/api/v1/wake-schedules/{id}', { params: { path: { id: s.id }, header: ifMatch(s.version) }, body: { enabled } }))
          .then(() => notifyDone(enabled ? 'Schedule enabled' : 'Schedule disabled'))
          .catch((err: unknown) => notifyError(err, isStale(err) ? 'Changed meanwhile (reloaded): try again' : 'Not changed'))
          .finally(() => {
            setBusy(false);
            void qc.invalidateQueries({ queryKey: ['wake-schedules'] });
          });
      }}
    />
  );
}

export default function SchedulesPage() {
  const qc = useQueryClient();
  const canWrite = useCan('operator');
  const schedules = useQuery({
    queryKey: ['wake-schedules', 'list'],
    queryFn: () => call(api.GET('/api/v1/wake-schedules', { params: { query: { limit: 500, sort: 'nextRunAt' } } })),
  });
  const groups = useGroups();
  const [editing, setEditing] = useState<{ schedule: Schedule | null; key: number } | null>(null);
  const [deleting, setDeleting] = useState<Schedule | null>(null);
  const groupName = (id: string) => groups.data?.items.find((g) => g.id === id)?.name ?? id.slice(0, 8);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Wake schedules</Title>
        <Can role="operator">
          <Button onClick={() => setEditing({ schedule: null, key: Date.now() })}>New schedule</Button>
        </Can>
      </Group>
      {schedules.error && (
        <Alert variant="outline" color="red.9" title="Could not load schedules">
          {schedules.error.message}
        </Alert>
      )}
      {schedules.isPending && <Loader aria-label="Loading schedules" />}
      {schedules.data && schedules.data.items.length === 0 && <Text>No wake schedules yet.</Text>}
      {schedules.data && schedules.data.items.length > 0 && (
        <Table.ScrollContainer minWidth={900}>
          <Table striped data-testid="schedules-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Group</Table.Th>
                <Table.Th>When</Table.Th>
                <Table.Th>Time zone</Table.Th>
                <Table.Th>Enabled</Table.Th>
                <Table.Th>Next run</Table.Th>
                <Table.Th>Last run</Table.Th>
                {canWrite && <Table.Th>Actions</Table.Th>}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {schedules.data.items.map((s) => {
                const label = `${groupName(s.groupId)} ${describeWhen(s)}`;
                return (
                  <Table.Tr key={s.id} data-testid={`schedule-row-${groupName(s.groupId)}`}>
                    <Table.Td>{groupName(s.groupId)}</Table.Td>
                    <Table.Td>
                      <Text size="sm">{describeWhen(s)}</Text>
                      {s.days?.length ? <Text size="xs">cron {s.cron}</Text> : null}
                    </Table.Td>
                    <Table.Td>{s.timezone}</Table.Td>
                    <Table.Td>{canWrite ? <EnabledSwitch s={s} label={label} /> : s.enabled ? 'yes' : 'no'}</Table.Td>
                    <Table.Td>{s.enabled ? formatTime(s.nextRunAt) : '—'}</Table.Td>
                    <Table.Td>
                      <Text size="sm">{formatTime(s.lastRunAt)}</Text>
                      {s.lastRunTotal != null && (
                        <Text size="xs">
                          {s.lastRunTotal - (s.lastRunFailed ?? 0)} of {s.lastRunTotal} woken
                          {s.lastRunFailed ? `, ${s.lastRunFailed} failed` : ''}
                        </Text>
                      )}
                    </Table.Td>
                    {canWrite && (
                      <Table.Td>
                        <Group gap="xs" wrap="nowrap">
                          <Button
                            size="xs"
                            variant="default"
                            onClick={() => setEditing({ schedule: s, key: Date.now() })}
                            aria-label={`Edit ${label}`}
                          >
                            Edit
                          </Button>
                          <Button size="xs" variant="outline" color="red.9" onClick={() => setDeleting(s)} aria-label={`Delete ${label}`}>
                            Delete
                          </Button>
                        </Group>
                      </Table.Td>
                    )}
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {editing && <ScheduleModal key={editing.key} schedule={editing.schedule} onClose={() => setEditing(null)} />}
      <ConfirmDelete
        what="this wake schedule"
        opened={!!deleting}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/wake-schedules/{id}', { params: { path: { id: deleting!.id } } }));
          notifyDone('Schedule deleted');
          void qc.invalidateQueries({ queryKey: ['wake-schedules'] });
        }}
      />
    </Stack>
  );
}
