import { Center, Loader } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { lazy, Suspense, useEffect, useState } from 'react';
import { Route, Routes } from 'react-router';
import { session } from './api/session';
import { usePrincipal } from './auth/auth';
import { startLiveInvalidation } from './events/live-invalidation';
import { events } from './events/stream';
import { Shell } from './layout/shell';
import { LoginPage } from './pages/login';

// Each page is its own chunk: the Room (landing page) loads without the charts, tables and forms of the others.
const RoomPage = lazy(() => import('./pages/room/room-page'));
const OverviewPage = lazy(() => import('./pages/overview/overview-page'));
const ClientsPage = lazy(() => import('./pages/clients/clients-page'));
const ClientPage = lazy(() => import('./pages/clients/client-page'));
const ImagesPage = lazy(() => import('./pages/images/images-page'));
const ImagePage = lazy(() => import('./pages/images/image-page'));
const GroupsPage = lazy(() => import('./pages/admin/groups-page'));
const NetworksPage = lazy(() => import('./pages/admin/networks-page'));
const SchedulesPage = lazy(() => import('./pages/admin/schedules-page'));
const UsersPage = lazy(() => import('./pages/admin/users-page'));
const AuditPage = lazy(() => import('./pages/admin/audit-page'));
const StoragePage = lazy(() => import('./pages/images/storage-page'));
const NodesPage = lazy(() => import('./pages/admin/nodes-page'));

export function App() {
  const principal = usePrincipal();
  const [resumed, setResumed] = useState(session.resumed);
  const qc = useQueryClient();

  useEffect(() => {
    if (!session.resumed) void session.resume().finally(() => setResumed(true));
  }, []);

  // One live stream while logged in; a logout (or an expired session) closes it and forgets cached data.
  useEffect(() => {
    if (!principal) return;
    const stop = startLiveInvalidation(qc);
    events.start();
    return () => {
      stop();
      events.stop();
      qc.clear();
    };
  }, [principal?.id]);

  if (!resumed) {
    return (
      <Center h="100vh">
        <Loader aria-label="Loading" />
      </Center>
    );
  }
  if (!principal) return <LoginPage />;
  return (
    <Shell>
      <Suspense
        fallback={
          <Center h={200}>
            <Loader aria-label="Loading page" />
          </Center>
        }
      >
        <Routes>
          <Route path="/" element={<RoomPage />} />
          <Route path="/overview" element={<OverviewPage />} />
          <Route path="/clients" element={<ClientsPage />} />
          <Route path="/clients/:id" element={<ClientPage />} />
          <Route path="/images" element={<ImagesPage />} />
          <Route path="/images/:id" element={<ImagePage />} />
          <Route path="/groups" element={<GroupsPage />} />
          <Route path="/networks" element={<NetworksPage />} />
          <Route path="/schedules" element={<SchedulesPage />} />
          <Route path="/users" element={<UsersPage />} />
          <Route path="/audit" element={<AuditPage />} />
          <Route path="/storage" element={<StoragePage />} />
          <Route path="/nodes" element={<NodesPage />} />
          <Route path="*" element={<p>No such page.</p>} />
        </Routes>
      </Suspense>
    </Shell>
  );
}
