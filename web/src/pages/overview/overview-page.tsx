import { Alert, Badge, Group, Paper, Progress, SimpleGrid, Stack, Table, Text, Title, VisuallyHidden } from '@mantine/core';
import { useQueries, useQuery } from '@tanstack/react-query';
import { useMemo } from 'react';
import { api, call, type Schemas } from '../../api/client';
import { formatBytes, formatMs, formatSeconds } from '../../lib/format';
import { BarChart } from './bar-chart';
import { LiveFeed } from './live-feed';
import { bucketLabels, STAGES, startOfToday, storageGauge } from './overview-model';
import { fetchStats, type BootStats } from './stats-api';

/** Coloured alert titles in the light variant fall below WCAG AA contrast: dark titles, the colour stays in the frame. */
const ALERT_STYLES = { title: { color: 'var(--mantine-color-dark-7)' } };

function ErrorNote({ error }: { error: unknown }) {
  return (
    <Alert color="red" variant="light" styles={ALERT_STYLES} title="Could not load">
      {error instanceof Error ? error.message : String(error)}
    </Alert>
  );
}

function StatCard({ label, value, testId, color }: { label: string; value: number | undefined; testId: string; color?: string }) {
  return (
    <Paper withBorder p="md">
      <Text size="sm" c="gray.7" component="h3" m={0} fw={500}>
        {label}
      </Text>
      <Text fz={32} fw={700} c={color} data-testid={testId}>
        {value ?? '—'}
      </Text>
    </Paper>
  );
}

function BootTimes({ stats }: { stats: BootStats }) {
  const buckets = stats.bootTime.buckets;
  const labels = useMemo(() => bucketLabels(buckets), [buckets]);
  const counts = buckets.map((b) => b.count);
  const any = counts.some((c) => c > 0);
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="hist-title">
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4" id="hist-title">
          Boot time today
        </Title>
        <Text size="sm" data-testid="boot-percentiles">
          median {formatSeconds(stats.bootTime.p50)} · p90 {formatSeconds(stats.bootTime.p90)}
        </Text>
      </Group>
      {any ? (
        <>
          <BarChart
            labels={labels}
            values={counts}
            seriesLabel="Boots"
            ariaLabel={`Histogram of boot times today: ${labels.map((l, i) => `${l}: ${counts[i]}`).join(', ')}`}
          />
          <VisuallyHidden>
            <table>
              <caption>Boots per boot-time range today</caption>
              <thead>
                <tr>
                  <th scope="col">Boot time</th>
                  <th scope="col">Boots</th>
                </tr>
              </thead>
              <tbody>
                {labels.map((l, i) => (
                  <tr key={l}>
                    <td>{l}</td>
                    <td>{counts[i]}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </VisuallyHidden>
        </>
      ) : (
        <Text size="sm" c="gray.7" data-testid="histogram-empty">
          No boot has reached running today.
        </Text>
      )}
    </Paper>
  );
}

function StageMedians({ stats }: { stats: BootStats }) {
  const values = STAGES.map((s) => stats.stageMedians[s.key]);
  const any = values.some((v) => v != null);
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="stages-title">
      <Title order={3} size="h4" id="stages-title" mb="xs">
        Stage medians today
      </Title>
      {any && (
        <BarChart
          labels={STAGES.map((s) => s.label)}
          values={values}
          seriesLabel="Median"
          horizontal
          color="#0c8599"
          format={formatMs}
          height={170}
          ariaLabel={`Median time per boot stage today: ${STAGES.map((s, i) => `${s.label} ${formatMs(values[i])}`).join(', ')}`}
        />
      )}
      <Table data-testid="stage-medians" mt="xs" fz="sm" verticalSpacing={2}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Stage</Table.Th>
            <Table.Th scope="col">Median</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {STAGES.map((s, i) => (
            <Table.Tr key={s.key}>
              <Table.Td>{s.label}</Table.Td>
              <Table.Td>{formatMs(values[i])}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}

function StorageCard() {
  const q = useQuery({ queryKey: ['storage'], queryFn: () => call(api.GET('/api/v1/storage')) });
  if (q.error) return <ErrorNote error={q.error} />;
  const s = q.data;
  const g = s ? storageGauge(s) : null;
  const versions = (s?.images ?? []).flatMap((img) => img.versions.map((v) => ({ image: img.name, ...v })));
  const maxUsed = Math.max(1, ...versions.map((v) => v.usedBytes));
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="storage-title">
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4" id="storage-title">
          Storage
        </Title>
        {s && (
          <Group gap="xs">
            <Badge variant="light" color="gray">
              {s.driver} · {s.cloneMethod}
            </Badge>
            <Badge variant="light" color={s.healthy ? 'teal' : 'red'} c="dark.7">
              {s.healthy ? 'healthy' : 'unhealthy'}
            </Badge>
          </Group>
        )}
      </Group>
      {s && g ? (
        <Stack gap="xs">
          <div style={{ position: 'relative' }}>
            <Progress.Root size={22} aria-hidden>
              <Progress.Section value={g.usedPct} color={g.belowMinFree ? 'red.8' : 'indigo.8'} />
              <Progress.Section value={g.freePct} color="gray.3" />
            </Progress.Root>
            {g.minFreeAtPct != null && (
              <div
                aria-hidden
                title="minimum free space"
                style={{ position: 'absolute', top: -4, bottom: -4, left: `${g.minFreeAtPct}%`, width: 2, background: '#c92a2a' }}
              />
            )}
          </div>
          <Text size="sm" data-testid="storage-summary">
            {formatBytes(s.usedBytes)} used · {formatBytes(s.freeBytes)} free · {formatBytes(s.totalBytes)} total · minimum free{' '}
            {formatBytes(s.minFreeBytes)} (red line)
          </Text>
          {g.belowMinFree && (
            <Alert color="red" variant="light" styles={ALERT_STYLES}>
              Free space is below the minimum: new imports and clones are refused.
            </Alert>
          )}
          {!s.healthy && s.detail && (
            <Text size="sm" c="red.9">
              {s.detail}
            </Text>
          )}
          <Text size="xs" c="gray.7">
            {s.root}
          </Text>
          {versions.length ? (
            <Table fz="sm" verticalSpacing={2} data-testid="version-usage">
              <Table.Caption>Space per image version</Table.Caption>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th scope="col">Image</Table.Th>
                  <Table.Th scope="col">Version</Table.Th>
                  <Table.Th scope="col">Own bytes</Table.Th>
                  <Table.Th scope="col">Referenced</Table.Th>
                  <Table.Th scope="col" w="30%">
                    <VisuallyHidden>Share</VisuallyHidden>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {versions.map((v) => (
                  <Table.Tr key={v.id}>
                    <Table.Td>{v.image}</Table.Td>
                    <Table.Td>{v.name}</Table.Td>
                    <Table.Td>{formatBytes(v.usedBytes)}</Table.Td>
                    <Table.Td>{formatBytes(v.referencedBytes)}</Table.Td>
                    <Table.Td>
                      <Progress value={(v.usedBytes / maxUsed) * 100} color="indigo.8" aria-hidden />
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          ) : (
            <Text size="sm" c="gray.7" data-testid="version-usage-empty">
              No published versions yet.
            </Text>
          )}
        </Stack>
      ) : (
        <Text size="sm" c="gray.7">
          Loading…
        </Text>
      )}
    </Paper>
  );
}

type Range = Schemas['NetworkRangeResponseDto'];

function PoolsCard() {
  const ranges = useQuery({
    queryKey: ['network-ranges', 'overview'],
    queryFn: () => call(api.GET('/api/v1/network-ranges', { params: { query: { limit: 500 } } })),
  });
  const items: Range[] = ranges.data?.items ?? [];
  const util = useQueries({
    queries: items.map((r) => ({
      queryKey: ['utilisation', r.id],
      queryFn: () => call(api.GET('/api/v1/network-ranges/{id}/utilisation', { params: { path: { id: r.id } } })),
    })),
  });
  if (ranges.error) return <ErrorNote error={ranges.error} />;
  return (
    <Paper withBorder p="md" component="section" aria-labelledby="pools-title">
      <Title order={3} size="h4" id="pools-title" mb="xs">
        Address pools
      </Title>
      {items.length === 0 ? (
        <Text size="sm" c="gray.7" data-testid="pools-empty">
          {ranges.isLoading ? 'Loading…' : 'No network range yet.'}
        </Text>
      ) : (
        <Stack gap="sm" data-testid="pools">
          {items.map((r, i) => {
            const u = util[i]?.data;
            const pct = (n: number) => (u && u.size ? (n / u.size) * 100 : 0);
            return (
              <div key={r.id} data-testid={`pool-${r.name}`}>
                <Group justify="space-between" gap="xs">
                  <Text size="sm" fw={500}>
                    {r.name} <span style={{ color: '#495057', fontWeight: 400 }}>{r.cidr}</span>
                  </Text>
                  <Text size="sm">
                    {!u
                      ? util[i]?.error
                        ? util[i].error.message
                        : '…'
                      : u.size === 0
                        ? `no pool (${r.dhcpMode})`
                        : `${u.inUse} of ${u.size} in use${u.quarantined ? `, ${u.quarantined} quarantined` : ''}, ${u.free} free`}
                  </Text>
                </Group>
                {u && u.size > 0 && (
                  <Progress.Root size={10} aria-hidden>
                    <Progress.Section value={pct(u.inUse)} color="indigo.8" />
                    <Progress.Section value={pct(u.quarantined)} color="orange.8" />
                  </Progress.Root>
                )}
              </div>
            );
          })}
        </Stack>
      )}
    </Paper>
  );
}

export default function OverviewPage() {
  // "Today" is fixed when the page mounts; boot-session events refresh ['stats'] (live-invalidation.ts).
  const from = useMemo(() => startOfToday(), []);
  const stats = useQuery({ queryKey: ['stats', from], queryFn: () => fetchStats(from) });
  const s = stats.data;
  return (
    <Stack gap="md">
      <Title order={2}>Overview</Title>
      {stats.error && <ErrorNote error={stats.error} />}
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <StatCard label="Boots today" value={s?.boots} testId="stat-boots" />
        <StatCard label="Running now" value={s?.running} testId="stat-running" color="teal.9" />
        <StatCard label="Errors today" value={s?.errors} testId="stat-errors" color={s?.errors ? 'red.8' : undefined} />
      </SimpleGrid>
      {s && (
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          <BootTimes stats={s} />
          <StageMedians stats={s} />
        </SimpleGrid>
      )}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <StorageCard />
        <PoolsCard />
      </SimpleGrid>
      <LiveFeed />
    </Stack>
  );
}
