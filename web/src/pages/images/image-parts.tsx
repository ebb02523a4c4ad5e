import { Badge } from '@mantine/core';
import type { Schemas } from '../../api/client';

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
