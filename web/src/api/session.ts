/**
 * The login session: access and refresh tokens kept across reloads (localStorage) and shared
 * by every tab. Refresh tokens rotate and a second use ends the session (docs/gateway.md), so
 * exactly one refresh may run at a time across all tabs: a Web Lock serialises them, and the
 * tab that gets the lock first re-reads storage, so a tab that waited adopts the pair the
 * other one stored instead of spending a used-up token.
 */
import type { Tokens, User } from './types'

export const SESSION_KEY = 'cs.session'
/** Refresh this long before the access token expires. */
export const REFRESH_MARGIN_MS = 60_000

export interface StoredSession {
  access: string
  refresh: string
  accessExpiresAt: number
  user: User
}

export interface KeyValueStore {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>
}

export type Refresher = (refreshToken: string) => Promise<Tokens | null>
export type LossReason = 'logout' | 'expired'
type Listener = (session: StoredSession | null, reason?: LossReason) => void

export class MemoryStore implements KeyValueStore {
  private readonly map = new Map<string, string>()
  getItem(key: string): string | null {
    return this.map.get(key) ?? null
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value)
  }
  removeItem(key: string): void {
    this.map.delete(key)
  }
}

export class Session {
  private state: StoredSession | null
  private inFlight: Promise<string | null> | null = null
  private readonly listeners = new Set<Listener>()
  refresher: Refresher = async () => null

  constructor(
    private readonly store: KeyValueStore,
    private readonly locks: LockManagerLike | null = null,
    private readonly now: () => number = Date.now,
  ) {
    this.state = this.read()
  }

  get current(): StoredSession | null {
    return this.state
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  set(tokens: Tokens): void {
    this.state = {
      access: tokens.access_token,
      refresh: tokens.refresh_token,
      accessExpiresAt: this.now() + tokens.expires_in * 1000,
      user: tokens.user,
    }
    this.store.setItem(SESSION_KEY, JSON.stringify(this.state))
    this.emit()
  }

  clear(reason: LossReason): void {
    const had = this.state !== null
    this.state = null
    this.store.removeItem(SESSION_KEY)
    if (had) this.emit(reason)
  }

  /** Another tab changed storage (the `storage` event). */
  reload(): void {
    const before = this.state
    this.state = this.read()
    if (before?.access !== this.state?.access) this.emit(this.state ? undefined : 'logout')
  }

  /** A usable access token, refreshed first when it is about to expire; null when logged out. */
  async accessToken(): Promise<string | null> {
    const state = this.state
    if (!state) return null
    if (state.accessExpiresAt - this.now() > REFRESH_MARGIN_MS) return state.access
    return this.refresh(state.access)
  }

  /**
   * A new access token (one refresh at a time in this tab, and, with Web Locks, across
   * tabs). `stale` is the token the caller found wanting: when the session already holds
   * another one, that one is returned without a refresh.
   */
  refresh(stale?: string): Promise<string | null> {
    if (this.inFlight) return this.inFlight
    const run = async (): Promise<string | null> => {
      this.state = this.read() // another tab may have refreshed or logged out meanwhile
      const state = this.state
      if (!state) return null
      if (stale !== undefined && state.access !== stale &&
          state.accessExpiresAt - this.now() > REFRESH_MARGIN_MS) {
        this.emit()
        return state.access
      }
      const tokens = await this.refresher(state.refresh)
      if (!tokens) {
        this.clear('expired')
        return null
      }
      this.set(tokens)
      return tokens.access_token
    }
    const locked = this.locks ? this.locks.request('cs.refresh', run) : run()
    this.inFlight = locked.finally(() => {
      this.inFlight = null
    })
    return this.inFlight
  }

  private read(): StoredSession | null {
    const raw = this.store.getItem(SESSION_KEY)
    if (!raw) return null
    try {
      const value = JSON.parse(raw) as StoredSession
      return typeof value.access === 'string' && typeof value.refresh === 'string' ? value : null
    } catch {
      return null
    }
  }

  private emit(reason?: LossReason): void {
    for (const listener of this.listeners) listener(this.state, reason)
  }
}

/** "13900000000" -> "139****0000" */
export function maskPhone(phone: string): string {
  return phone.length === 11 ? `${phone.slice(0, 3)}****${phone.slice(7)}` : phone
}
