import { Alert, Anchor, AppShell, Badge, Burger, Button, Group, NavLink, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { Link, useLocation } from 'react-router';
import { api, call } from '../api/client';
import { session } from '../api/session';
import { usePrincipal, useCan, type Role } from '../auth/auth';
import { useStreamStatus } from '../events/hooks';

const NAV: { to: string; label: string; role: Role }[] = [
  { to: '/', label: 'Room', role: 'viewer' },
  { to: '/overview', label: 'Overview', role: 'viewer' },
  { to: '/clients', label: 'Clients', role: 'viewer' },
  { to: '/images', label: 'Images', role: 'viewer' },
  { to: '/groups', label: 'Groups', role: 'viewer' },
  { to: '/networks', label: 'Networks', role: 'viewer' },
  { to: '/schedules', label: 'Schedules', role: 'viewer' },
  { to: '/storage', label: 'Storage', role: 'viewer' },
  { to: '/nodes', label: 'Nodes', role: 'viewer' },
  { to: '/users', label: 'Users', role: 'admin' },
  { to: '/audit', label: 'Audit', role: 'admin' },
];

function NavItem({ to, label, role }: { to: string; label: string; role: Role }) {
  const { pathname } = useLocation();
  const allowed = useCan(role);
  if (!allowed) return null;
  const active = to === '/' ? pathname === '/' : pathname.startsWith(to);
  return <NavLink component={Link} to={to} label={label} active={active} aria-current={active ? 'page' : undefined} />;
}

function StreamBadge() {
  const status = useStreamStatus();
  const color = status === 'open' ? 'teal' : status === 'closed' ? 'gray' : 'orange';
  const text = status === 'open' ? 'live' : status === 'closed' ? 'offline' : 'reconnecting';
  return (
    <Badge color={color} variant="light" c="dark.7" data-testid="stream-status" data-status={status}>
      {text}
    </Badge>
  );
}

/** Shown while there is no image or no network range: what to do first. */
function FirstRunHint() {
  const images = useQuery({ queryKey: ['images', 'count'], queryFn: () => call(api.GET('/api/v1/images', { params: { query: { limit: 1 } } })) });
  const ranges = useQuery({
    queryKey: ['network-ranges', 'count'],
    queryFn: () => call(api.GET('/api/v1/network-ranges', { params: { query: { limit: 1 } } })),
  });
  if (!images.data || !ranges.data || (images.data.total > 0 && ranges.data.total > 0)) return null;
  return (
    <Alert color="indigo" title="Getting started" mb="md" data-testid="first-run-hint">
      {images.data.total === 0 && (
        <Text size="sm">
          No image yet:{' '}
          <Anchor component={Link} to="/images">
            create an image
          </Anchor>{' '}
          and upload a disk, then publish a version.
        </Text>
      )}
      {ranges.data.total === 0 && (
        <Text size="sm">
          No network range yet:{' '}
          <Anchor component={Link} to="/networks">
            add the boot network
          </Anchor>{' '}
          (its interface, addresses and mode).
        </Text>
      )}
    </Alert>
  );
}

export function Shell({ children }: { children: React.ReactNode }) {
  const [opened, { toggle }] = useDisclosure();
  const principal = usePrincipal();
  return (
    <AppShell header={{ height: 52 }} navbar={{ width: 190, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
            <Title order={1} size="h4">
              DLS
            </Title>
            <StreamBadge />
          </Group>
          <Group gap="sm">
            <Text size="sm" data-testid="whoami">
              {principal?.username} ({principal?.role})
            </Text>
            <Button variant="subtle" size="xs" onClick={() => void session.logout()}>
              Log out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" component="nav" aria-label="Pages">
        {NAV.map((n) => (
          <NavItem key={n.to} {...n} />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <FirstRunHint />
        {children}
      </AppShell.Main>
    </AppShell>
  );
}
