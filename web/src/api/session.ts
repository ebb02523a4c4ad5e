/**
 * The login session: the access token in memory, the refresh token in sessionStorage (a reload keeps the session, a
 * closed tab ends it). One refresh at a time: concurrent 401s wait for the same exchange.
 */
export interface Principal {
  id: string;
  username: string;
  role: 'viewer' | 'operator' | 'admin';
}

interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

const REFRESH_KEY = 'dls.refreshToken';
type Listener = () => void;

class Session {
  private access: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<Listener>();
  principal: Principal | null = null;
  /** True once the page has tried to resume a stored session (so the app knows whether to show the login form). */
  resumed = false;

  get accessToken(): string | null {
    return this.access;
  }

  get hasRefreshToken(): boolean {
    return !!sessionStorage.getItem(REFRESH_KEY);
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  private store(pair: TokenPair): void {
    this.access = pair.accessToken;
    sessionStorage.setItem(REFRESH_KEY, pair.refreshToken);
  }

  async login(username: string, password: string): Promise<void> {
    const res = await fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) throw Object.assign(new Error(messageOf(body) ?? `login failed (${res.status})`), { status: res.status });
    this.store(body as unknown as TokenPair);
    await this.loadPrincipal();
  }

  /** Trades the stored refresh token for a new pair; false (and logged out) when it is gone, used or revoked. */
  refresh(): Promise<boolean> {
    this.refreshing ??= (async () => {
      const refreshToken = sessionStorage.getItem(REFRESH_KEY);
      if (!refreshToken) return false;
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refreshToken }),
      }).catch(() => null);
      if (!res?.ok) {
        if (res && res.status < 500) this.clear();
        return false;
      }
      this.store((await res.json()) as TokenPair);
      return true;
    })().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  /** On page load: a stored refresh token gives a new access token and the principal, without a login form. */
  async resume(): Promise<void> {
    try {
      if (this.hasRefreshToken && (await this.refresh())) await this.loadPrincipal();
    } finally {
      this.resumed = true;
      this.changed();
    }
  }

  private async loadPrincipal(): Promise<void> {
    const res = await fetch('/api/v1/auth/me', { headers: { Authorization: `Bearer ${this.access}` } });
    if (!res.ok) throw new Error(`could not read the logged-in user (${res.status})`);
    this.principal = (await res.json()) as Principal;
    this.changed();
  }

  async logout(): Promise<void> {
    const refreshToken = sessionStorage.getItem(REFRESH_KEY);
    if (this.access) {
      await fetch('/api/v1/auth/logout', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${this.access}` },
        body: JSON.stringify({ refreshToken: refreshToken ?? undefined }),
      }).catch(() => undefined);
    }
    this.clear();
  }

  /** Forget the tokens (expired or revoked session): the app shows the login form and keeps the page's address. */
  clear(): void {
    this.access = null;
    this.principal = null;
    sessionStorage.removeItem(REFRESH_KEY);
    this.changed();
  }
}

export function messageOf(body: unknown): string | undefined {
  const m = (body as { message?: unknown } | null)?.message;
  if (Array.isArray(m)) return m.join('; ');
  return typeof m === 'string' ? m : undefined;
}

export const session = new Session();
