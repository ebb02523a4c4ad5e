import { notifications } from '@mantine/notifications';
import { ApiError } from '../api/client';

/** Named close button and AA-contrast text (Mantine's default description colour is too light on white). */
const a11y = {
  closeButtonProps: { 'aria-label': 'Close notification' },
  styles: { description: { color: 'var(--mantine-color-dark-7)' } },
};

/** Shows the API's own message for a failed action (status, code and what went wrong). */
export function notifyError(e: unknown, title = 'Request failed'): void {
  const message = e instanceof Error ? e.message : String(e);
  const head = e instanceof ApiError ? `${title}: ${e.status} ${e.code}` : title;
  notifications.show({ ...a11y, color: 'red', title: head, message, autoClose: 10_000 });
}

export function notifyDone(message: string): void {
  notifications.show({ ...a11y, color: 'teal', message, autoClose: 3_000 });
}
