import { Alert, Anchor, Badge, List, Text } from '@mantine/core';
import { Link } from 'react-router';
import type { ApiError, Schemas } from '../../api/client';
import { clientsInUse } from './images-logic';

const STATUS_COLOR: Record<Schemas['ImageResponseDto']['contentStatus'], string> = {
  empty: 'gray',
  importing: 'blue',
  ready: 'teal',
  failed: 'red',
};

/** The content status of an image (with the import percent while importing). */
export function StatusBadge({ image }: { image: Pick<Schemas['ImageResponseDto'], 'contentStatus' | 'contentProgress'> }) {
  const pct = image.contentStatus === 'importing' && image.contentProgress != null ? ` ${Math.round(image.contentProgress)}%` : '';
  return (
    <Badge variant="light" color={STATUS_COLOR[image.contentStatus]} data-testid="content-status" data-status={image.contentStatus}>
      {image.contentStatus}
      {pct}
    </Badge>
  );
}

/** A refused delete, explained: the API's message, a hint, and the clients the 409's details name, as links. */
export function DeleteRefused({ error, what, hint, onClose }: { error: ApiError; what: string; hint?: string; onClose: () => void }) {
  const { clients, count } = clientsInUse(error.details);
  return (
    <Alert
      color="orange"
      title={`${what} was not deleted (${error.status} ${error.code})`}
      withCloseButton
      closeButtonLabel="Dismiss"
      onClose={onClose}
      data-testid="delete-refused"
    >
      <Text size="sm">{error.message}</Text>
      {hint && (
        <Text size="sm" mt="xs">
          {hint}
        </Text>
      )}
      {clients.length > 0 && (
        <>
          <Text size="sm" mt="xs">
            Used by {count} client{count === 1 ? '' : 's'}: reassign them, or reset, remove or unpin their disks, first.
          </Text>
          <List size="sm" data-testid="in-use-clients">
            {clients.map((c) => (
              <List.Item key={c.id ?? c.hostname}>
                {c.id ? (
                  <Anchor component={Link} to={`/clients/${c.id}`}>
                    {c.hostname}
                  </Anchor>
                ) : (
                  c.hostname
                )}
              </List.Item>
            ))}
            {count > clients.length && <List.Item>and {count - clients.length} more</List.Item>}
          </List>
        </>
      )}
    </Alert>
  );
}
