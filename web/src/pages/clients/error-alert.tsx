import { Alert, type AlertProps } from '@mantine/core';

/** A red alert whose title keeps AA contrast (Mantine's light variant draws the title in a lighter red). */
export function ErrorAlert(props: AlertProps & { 'data-testid'?: string }) {
  return <Alert color="red" styles={{ title: { color: 'var(--mantine-color-red-9)' } }} {...props} />;
}
