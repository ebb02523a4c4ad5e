import { Alert, Badge, Button, Group, Loader, Modal, PasswordInput, Select, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call, ifMatch, type Schemas } from '../../api/client';
import { useCan, usePrincipal } from '../../auth/auth';
import { formatAgo, formatTime } from '../../lib/format';
import { notifyDone, notifyError } from '../../lib/notify';
import { ConfirmDelete, FormAlert, isStale, StaleAlert, useFormErrors } from './admin-ui';

type User = Schemas['UserDto'];
type Role = Schemas['Role'];

const ROLES: { value: Role; label: string }[] = [
  { value: 'viewer', label: 'viewer (reads everything)' },
  { value: 'operator', label: 'operator (clients, images, groups, wake)' },
  { value: 'admin', label: 'admin (also users and networks)' },
];
const ROLE_COLOR: Record<Role, string> = { viewer: 'gray.8', operator: 'blue.9', admin: 'grape.9' };

function CreateUserModal({ onClose }: { onClose: () => void }) {
  const qc = useQueryClient();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const [busy, setBusy] = useState(false);
  const errs = useFormErrors(['username', 'password', 'role']);
  const submit = async () => {
    setBusy(true);
    errs.clear();
    try {
      await call(api.POST('/api/v1/users', { body: { username: username.trim(), password, role } }));
      notifyDone(`User ${username} created`);
      void qc.invalidateQueries({ queryKey: ['users'] });
      onClose();
    } catch (e) {
      errs.show(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened onClose={onClose} title="New user">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Stack gap="sm">
          <TextInput
            label="Username"
            required
            description="lower case letters, digits, . _ - (3–64, starting with a letter)"
            value={username}
            onChange={(e) => setUsername(e.currentTarget.value)}
            error={errs.field('username')}
            autoComplete="off"
          />
          <PasswordInput
            label="Password"
            required
            description="at least 8 characters, not easy to guess"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            error={errs.field('password')}
            autoComplete="new-password"
          />
          <Select
            label="Role"
            data={ROLES}
            value={role}
            onChange={(v) => setRole((v ?? 'operator') as Role)}
            allowDeselect={false}
            error={errs.field('role')}
          />
          <FormAlert errors={errs.errors} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              Create
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

/** Role, enabled and a new password: only what changed is sent, with If-Match. */
function EditUserModal({ user, self, onClose }: { user: User; self: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const [record, setRecord] = useState(user);
  const [role, setRole] = useState<Role>(user.role);
  const [enabled, setEnabled] = useState(user.enabled);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [stale, setStale] = useState(false);
  const errs = useFormErrors(['password', 'role', 'enabled']);
  const submit = async () => {
    const body: { role?: Role; enabled?: boolean; password?: string } = {};
    if (role !== record.role) body.role = role;
    if (enabled !== record.enabled) body.enabled = enabled;
    if (password !== '') body.password = password;
    if (Object.keys(body).length === 0) return onClose();
    setBusy(true);
    errs.clear();
    setStale(false);
    try {
      await call(api.PATCH('/api/v1/users/{id}', { params: { path: { id: record.id }, header: ifMatch(record.version) }, body }));
      notifyDone(`User ${record.username} saved${body.password ? ' (new password; their sessions were ended)' : ''}`);
      void qc.invalidateQueries({ queryKey: ['users'] });
      onClose();
    } catch (e) {
      if (isStale(e)) {
        try {
          const fresh = await call(api.GET('/api/v1/users/{id}', { params: { path: { id: record.id } } }));
          setRecord(fresh);
          setRole(fresh.role);
          setEnabled(fresh.enabled);
        } catch (e2) {
          notifyError(e2);
        }
        setStale(true);
        void qc.invalidateQueries({ queryKey: ['users'] });
      } else {
        errs.show(e);
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened onClose={onClose} title={`Edit user ${record.username}`}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Stack gap="sm">
          <StaleAlert show={stale} />
          {self && (
            <Alert variant="outline" color="orange.9" title="This is you">
              Demoting or disabling yourself ends your admin access.
            </Alert>
          )}
          <Select
            label="Role"
            data={ROLES}
            value={role}
            onChange={(v) => setRole((v ?? record.role) as Role)}
            allowDeselect={false}
            error={errs.field('role')}
          />
          <Switch
            label="Enabled (may log in)"
            checked={enabled}
            onChange={(e) => setEnabled(e.currentTarget.checked)}
            error={errs.field('enabled')}
          />
          <PasswordInput
            label="New password"
            description="leave empty to keep the current one; a new one ends the user's sessions"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            error={errs.field('password')}
            autoComplete="new-password"
          />
          <FormAlert errors={errs.errors} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy}>
              Save
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function UsersTable() {
  const qc = useQueryClient();
  const me = usePrincipal();
  const users = useQuery({
    queryKey: ['users', 'list'],
    queryFn: () => call(api.GET('/api/v1/users', { params: { query: { limit: 500, sort: 'username' } } })),
  });
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<User | null>(null);
  const [deleting, setDeleting] = useState<User | null>(null);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Users</Title>
        <Button onClick={() => setCreating(true)}>New user</Button>
      </Group>
      {users.error && (
        <Alert variant="outline" color="red.9" title="Could not load users">
          {users.error.message}
        </Alert>
      )}
      {users.isPending && <Loader aria-label="Loading users" />}
      {users.data && (
        <Table.ScrollContainer minWidth={800}>
          <Table striped data-testid="users-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Username</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>Enabled</Table.Th>
                <Table.Th>Created</Table.Th>
                <Table.Th>Last login</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {users.data.items.map((u) => {
                const self = u.id === me?.id;
                return (
                  <Table.Tr key={u.id} data-testid={`user-row-${u.username}`}>
                    <Table.Td>
                      {u.username}
                      {self && (
                        <Badge ml="xs" variant="outline" color="gray.8">
                          you
                        </Badge>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Badge variant="outline" color={ROLE_COLOR[u.role]}>
                        {u.role}
                      </Badge>
                    </Table.Td>
                    <Table.Td>{u.enabled ? 'yes' : 'no (cannot log in)'}</Table.Td>
                    <Table.Td>{formatTime(u.createdAt)}</Table.Td>
                    <Table.Td title={formatTime(u.lastLoginAt)}>{u.lastLoginAt ? formatAgo(u.lastLoginAt) : 'never'}</Table.Td>
                    <Table.Td>
                      <Group gap="xs" wrap="nowrap">
                        <Button size="xs" variant="default" onClick={() => setEditing(u)} aria-label={`Edit ${u.username}`}>
                          Edit
                        </Button>
                        {/* No delete of oneself: another admin does that (the API also refuses the last admin). */}
                        {!self && (
                          <Button size="xs" variant="outline" color="red.9" onClick={() => setDeleting(u)} aria-label={`Delete ${u.username}`}>
                            Delete
                          </Button>
                        )}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {creating && <CreateUserModal onClose={() => setCreating(false)} />}
      {editing && <EditUserModal key={editing.id} user={editing} self={editing.id === me?.id} onClose={() => setEditing(null)} />}
      <ConfirmDelete
        what={`user ${deleting?.username ?? ''}`}
        opened={!!deleting}
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          await call(api.DELETE('/api/v1/users/{id}', { params: { path: { id: deleting!.id } } }));
          notifyDone(`User ${deleting!.username} deleted`);
          void qc.invalidateQueries({ queryKey: ['users'] });
        }}
      >
        <Text size="sm">The user can no longer log in.</Text>
      </ConfirmDelete>
    </Stack>
  );
}

/** Users (admin only): a non-admin who opens /users gets the API's answer in words, not a crash. */
export default function UsersPage() {
  const isAdmin = useCan('admin');
  if (!isAdmin) {
    return (
      <Stack>
        <Title order={2}>Users</Title>
        <Alert variant="outline" color="red.9" title="403: not allowed" role="alert" data-testid="forbidden">
          Managing users needs the admin role.
        </Alert>
      </Stack>
    );
  }
  return <UsersTable />;
}
