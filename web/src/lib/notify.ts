import { notifications } from '@mantine/notifications';
import { ApiError } from '../api/client';

/** Shows the API's own message for a failed action (status, code and what went wrong). */
export function notifyError(e: unknown, title = 'Request failed'): void {
  const message = e instanceof Error ? e.message : String(e);
  const head = e instanceof ApiError ? `${title}: ${e.status} ${e.code}` : title;
  notifications.show({ color: 'red', title: head, message, autoClose: 10_000, closeButtonProps: { 'aria-label': 'Close notification' } });
}

export function notifyDone(message: string): void {
  notifications.show({ color: 'teal', message, autoClose: 3_000, closeButtonProps: { 'aria-label': 'Close notification' } });
}
