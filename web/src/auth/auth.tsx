import { useSyncExternalStore } from 'react';
import { session, type Principal } from '../api/session';

export type Role = Principal['role'];
const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export function usePrincipal(): Principal | null {
  return useSyncExternalStore(
    (cb) => session.subscribe(cb),
    () => session.principal,
  );
}

/** Whether the logged-in user has at least `role` (viewer < operator < admin). */
export function useCan(role: Role): boolean {
  const p = usePrincipal();
  return !!p && RANK[p.role] >= RANK[role];
}

/** Renders its children only for users with at least `role`: a viewer sees no button it can't use. */
export function Can({ role, children }: { role: Role; children: React.ReactNode }) {
  return useCan(role) ? <>{children}</> : null;
}
