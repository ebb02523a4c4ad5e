import { Badge, Button, Group, MultiSelect, Paper, Stack, Text, Title } from '@mantine/core';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useEvent } from '../../events/hooks';
import { EVENT_TYPES } from '../../events/types';
import { FEED_CAP, prependCapped, toLine, type FeedLine } from './overview-model';

const timeOf = (iso: string) => new Date(iso).toLocaleTimeString();

/**
 * The last {@link FEED_CAP} events of the live stream, newest first. Events are collected in a ref and rendered at
 * most once per animation frame (a burst of hundreds costs one render); while paused they keep arriving and are
 * shown on resume (still capped).
 */
export function LiveFeed() {
  const [lines, setLines] = useState<FeedLine[]>([]);
  const [paused, setPaused] = useState(false);
  const [types, setTypes] = useState<string[]>([]);
  const pending = useRef<FeedLine[]>([]);
  const frame = useRef<number | null>(null);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;
  const [waiting, setWaiting] = useState(0);

  const flush = () => {
    frame.current = null;
    if (pausedRef.current) {
      setWaiting(Math.min(pending.current.length, FEED_CAP));
      return;
    }
    const batch = pending.current;
    pending.current = [];
    setWaiting(0);
    if (batch.length) setLines((prev) => prependCapped(prev, batch));
  };
  const schedule = () => {
    frame.current ??= requestAnimationFrame(flush);
  };

  useEvent('*', (e) => {
    pending.current.push(toLine(e));
    // Keep the backlog bounded too (only the newest FEED_CAP can ever be shown).
    if (pending.current.length > 4 * FEED_CAP) pending.current = pending.current.slice(-FEED_CAP);
    schedule();
  });

  useEffect(() => {
    if (!paused) schedule();
  }, [paused]);
  useEffect(
    () => () => {
      if (frame.current != null) cancelAnimationFrame(frame.current);
    },
    [],
  );

  const shown = useMemo(() => (types.length ? lines.filter((l) => types.includes(l.type)) : lines), [lines, types]);

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="feed-title">
      <Group justify="space-between" mb="sm" align="flex-end">
        <Group gap="xs">
          <Title order={3} size="h4" id="feed-title">
            Live events
          </Title>
          {paused && (
            <Badge color="orange" variant="light" c="dark.7" data-testid="feed-paused">
              paused{waiting ? `: ${waiting} new` : ''}
            </Badge>
          )}
        </Group>
        <Group gap="sm" align="flex-end">
          <MultiSelect
            label="Event types"
            placeholder={types.length ? undefined : 'all'}
            data={EVENT_TYPES}
            value={types}
            onChange={setTypes}
            clearable
            size="xs"
            w={280}
          />
          <Button size="xs" variant="light" onClick={() => setPaused((p) => !p)}>
            {paused ? 'Resume' : 'Pause'}
          </Button>
        </Group>
      </Group>
      {shown.length === 0 ? (
        <Text size="sm" c="gray.7" data-testid="feed-empty">
          {lines.length ? 'No events of the selected types.' : 'Waiting for events…'}
        </Text>
      ) : (
        <Stack
          gap={2}
          component="ol"
          aria-label="Live events, newest first"
          data-testid="live-feed"
          tabIndex={0}
          style={{ listStyle: 'none', padding: 0, margin: 0, maxHeight: 420, overflowY: 'auto' }}
        >
          {shown.map((l) => (
            <li key={l.key} data-type={l.type} style={{ display: 'flex', gap: 8, fontSize: 13, lineHeight: 1.5 }}>
              <time dateTime={l.time} style={{ color: '#495057', fontVariantNumeric: 'tabular-nums', flex: '0 0 auto' }}>
                {timeOf(l.time)}
              </time>
              <Badge variant="light" color="gray" size="sm" style={{ flex: '0 0 auto', textTransform: 'none' }}>
                {l.type}
              </Badge>
              <span style={{ overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>{l.summary}</span>
            </li>
          ))}
        </Stack>
      )}
    </Paper>
  );
}
