import { notifications } from '@mantine/notifications';
import { ApiError } from '../api/client';

/** The close button needs a name, and the description Mantine's default grey (3.3:1 on white) fails WCAG AA. */
const A11Y = { closeButtonProps: { 'aria-label': 'Close notification' }, styles: { description: { color: 'var(--mantine-color-gray-7)' } } };

/** Shows the API's own message for a failed action (status, code and what went wrong). */
export function notifyError(e: unknown, title = 'Request failed'): void {
  const message = e instanceof Error ? e.message : String(e);
  const head = e instanceof ApiError ? `${title}: ${e.status} ${e.code}` : title;
  notifications.show({ ...A11Y, color: 'red', title: head, message, autoClose: 10_000 });
}

export function notifyDone(message: string): void {
  notifications.show({ ...A11Y, color: 'teal', message, autoClose: 3_000 });
}
