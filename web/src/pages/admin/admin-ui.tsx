import { Alert, Button, Group, Modal, Text } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError } from '../../api/client';
import { notifyDone, notifyError } from '../../lib/notify';
import { fieldErrors, type FieldErrors } from './admin-forms';

/** Form error state: per-field messages from the API and the rest. */
export function useFormErrors(known: readonly string[]) {
  const [errors, setErrors] = useState<FieldErrors>({ fields: {}, general: null });
  return {
    errors,
    field: (name: string) => errors.fields[name],
    clear: () => setErrors({ fields: {}, general: null }),
    /** Shows a failed write in the form: next to the fields it names, the rest above the buttons. */
    show: (e: unknown) => setErrors(fieldErrors(e, known)),
  };
}

/** The message above a form's buttons: what the API said that names no field of the form. */
export function FormAlert({ errors, title = 'Not saved' }: { errors: FieldErrors; title?: string }) {
  if (!errors.general) return null;
  return (
    <Alert variant="outline" color="red.9" title={title} role="alert" data-testid="form-error">
      {errors.general}
    </Alert>
  );
}

/** A 412 on an edit: someone changed the record since the form opened. */
export const isStale = (e: unknown) => e instanceof ApiError && e.status === 412;

export function StaleAlert({ show }: { show: boolean }) {
  if (!show) return null;
  return (
    <Alert variant="outline" color="orange.9" title="Changed meanwhile" role="alert" data-testid="stale-alert">
      Someone else changed this record after you opened it, so your change was not saved. The form now shows the current values: check them and save
      again.
    </Alert>
  );
}

/** A confirmation dialog for a delete; a refusal (e.g. 409) stays in the dialog with the API's message. */
export function ConfirmDelete({
  what,
  opened,
  onClose,
  onConfirm,
  children,
}: {
  what: string;
  opened: boolean;
  onClose: () => void;
  onConfirm: () => Promise<unknown>;
  children?: React.ReactNode;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const close = () => {
    setError(null);
    onClose();
  };
  return (
    <Modal closeButtonProps={{ 'aria-label': 'Close' }} opened={opened} onClose={close} title={`Delete ${what}?`}>
      {children ?? <Text size="sm">This cannot be undone.</Text>}
      {error && (
        <Alert variant="outline" color="red.9" title="Not deleted" role="alert" mt="sm" data-testid="delete-error">
          {error}
        </Alert>
      )}
      <Group justify="flex-end" mt="md">
        <Button variant="default" onClick={close}>
          Cancel
        </Button>
        <Button
          color="red.9"
          loading={busy}
          onClick={() => {
            setBusy(true);
            setError(null);
            onConfirm()
              .then(close)
              .catch((e: unknown) => {
                const head = e instanceof ApiError ? `${e.status} ${e.code}: ` : '';
                setError(`${head}${e instanceof Error ? e.message : String(e)}`);
              })
              .finally(() => setBusy(false));
          }}
        >
          Delete
        </Button>
      </Group>
    </Modal>
  );
}

/**
 * The create-or-edit flow of the admin forms: create, or save with If-Match; a 412 (someone saved first) loads the
 * current version into the form and says so (`stale`), so the user redoes the change on it; other failures go to the
 * form's errors. `queryKey` (the API entity type) is refreshed after a save or a reload.
 */
export function useRecordSave<R extends { id: string; version: number }>(o: {
  queryKey: string;
  record: R | null;
  errs: { clear(): void; show(e: unknown): void };
  create(): Promise<unknown>;
  update(record: R): Promise<unknown>;
  reload(record: R): Promise<R>;
  onReloaded(fresh: R): void;
  onSaved(): void;
}) {
  const qc = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [stale, setStale] = useState(false);
  const refresh = () => void qc.invalidateQueries({ queryKey: [o.queryKey] });
  const submit = async (done: string) => {
    setBusy(true);
    o.errs.clear();
    setStale(false);
    try {
      await (o.record ? o.update(o.record) : o.create());
      notifyDone(done);
      refresh();
      o.onSaved();
    } catch (e) {
      if (o.record && isStale(e)) {
        try {
          o.onReloaded(await o.reload(o.record));
        } catch (e2) {
          notifyError(e2);
        }
        setStale(true);
        refresh();
      } else {
        o.errs.show(e);
      }
    } finally {
      setBusy(false);
    }
  };
  return { busy, stale, submit };
}
