/** The app's single instances: the API client, the session, and what views share of them. */
import { computed, onBeforeUnmount, ref, shallowRef } from 'vue'
import { ApiClient } from './api/client'
import { AbortedError, ApiError, NetworkError, RateLimitedError, UnavailableError } from './api/problems'
import { MemoryStore, Session, type LockManagerLike, type StoredSession } from './api/session'
import { t } from './i18n'

function browserStore(): Storage | MemoryStore {
  try {
    localStorage.setItem('cs.probe', '1')
    localStorage.removeItem('cs.probe')
    return localStorage
  } catch {
    return new MemoryStore()
  }
}

const locks: LockManagerLike | null = typeof navigator !== 'undefined' && navigator.locks
  ? { request: <T>(name: string, callback: () => Promise<T>) => navigator.locks.request(name, callback) as Promise<T> }
  : null

export const session = new Session(browserStore(), locks)
export const api = new ApiClient({ session })

export const currentSession = shallowRef<StoredSession | null>(session.current)
/** Set when the server stopped accepting our session (not on a log out). */
export const sessionLost = ref(false)
session.subscribe((state, reason) => {
  currentSession.value = state
  if (reason === 'expired') sessionLost.value = true
  if (state) sessionLost.value = false
})
if (typeof window !== 'undefined') {
  window.addEventListener('storage', (event) => {
    if (event.key === null || event.key === 'cs.session') session.reload()
  })
}
export const loggedIn = computed(() => currentSession.value !== null)

export async function logOut(): Promise<void> {
  const token = session.current?.access
  session.clear('logout')
  if (!token) return
  try {
    await api.raw('/api/v1/auth/logout', { method: 'POST', token })
  } catch {
    /* the session is gone here anyway; the server drops it when the token expires */
  }
}

/** A message for an error that a page shows with a retry button. */
export function errorText(error: unknown): string {
  if (error instanceof NetworkError) return t('common.errorNetwork')
  if (error instanceof UnavailableError) return t('common.errorUnavailable')
  if (error instanceof RateLimitedError) return t('common.rateLimited', { s: error.retryAfter ?? 1 })
  if (error instanceof ApiError) return t('common.errorGeneric', { detail: error.message })
  return t('common.errorGeneric', { detail: String(error) })
}

/**
 * A loader run by a view: its data, error and loading flag, never a rejected promise
 * (aborted loads from a route change are dropped silently).
 */
export function useResource<T>(loader: () => Promise<T>) {
  const data = shallowRef<T | null>(null)
  const error = shallowRef<unknown>(null)
  const loading = ref(false)
  let generation = 0
  let alive = true
  onBeforeUnmount(() => {
    alive = false
  })
  async function load(): Promise<void> {
    const mine = ++generation
    loading.value = true
    error.value = null
    try {
      const value = await loader()
      if (mine === generation && alive) data.value = value
    } catch (e) {
      if (!(e instanceof AbortedError) && mine === generation && alive) error.value = e
    } finally {
      if (mine === generation) loading.value = false
    }
  }
  return { data, error, loading, load }
}

/** A reactive "now" on the server's clock, ticking every `everyMs` while mounted. */
export function useServerNow(everyMs = 250) {
  const now = ref(api.clock.now())
  const timer = setInterval(() => {
    now.value = api.clock.now()
  }, everyMs)
  onBeforeUnmount(() => clearInterval(timer))
  return now
}
