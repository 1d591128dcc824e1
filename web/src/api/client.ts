/**
 * The one way the app talks to the API: base URL, bearer token (refreshed before and when it
 * expires), problem+json turned into typed errors, the server clock fed from `Date`, and
 * requests aborted when the route changes (`newScope`).
 */
import { ServerClock } from '../lib/clock'
import {
  AbortedError, NetworkError, UnauthorizedError, parseRetryAfter, problemError,
  type ProblemBody,
} from './problems'
import type { Session } from './session'
import type { ApiPath, Tokens } from './types'

export type Auth = 'none' | 'optional' | 'required'
type Query = Record<string, string | number | boolean | null | undefined>

export interface RequestOptions {
  path?: Record<string, string | number>
  query?: Query
  body?: unknown
  headers?: Record<string, string>
  auth?: Auth
  signal?: AbortSignal
  /** Abort on the next route change (default true). */
  scoped?: boolean
}

export interface ApiResponse<T> {
  data: T
  status: number
  headers: Headers
}

export interface ClientOptions {
  baseUrl?: string
  fetch?: typeof fetch
  session: Session
  clock?: ServerClock
  monotonic?: () => number
}

/** `/api/v1/seckill/items/{id}` with `{id: 3}` -> `/api/v1/seckill/items/3`. */
export function fillPath(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name]
    if (value === undefined) throw new Error(`missing path parameter ${name}`)
    return encodeURIComponent(String(value))
  })
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  if ('any' in AbortSignal) return AbortSignal.any(signals)
  const controller = new AbortController()
  for (const s of signals) s.addEventListener('abort', () => controller.abort(), { once: true })
  return controller.signal
}

export class ApiClient {
  readonly session: Session
  readonly clock: ServerClock
  private readonly baseUrl: string
  private readonly fetchImpl: typeof fetch
  private readonly monotonic: () => number
  private scope = new AbortController()

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl ?? ''
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.session = options.session
    this.monotonic = options.monotonic ?? (() => performance.now())
    this.clock = options.clock ?? new ServerClock(this.monotonic)
    this.session.refresher = (token) => this.refreshTokens(token)
  }

  /** Abort every scoped request in flight (called on each route change). */
  newScope(): void {
    this.scope.abort()
    this.scope = new AbortController()
  }

  get<T>(path: ApiPath, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path, options)
  }

  post<T>(path: ApiPath, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, options)
  }

  url(path: string, query?: Query): string {
    const search = new URLSearchParams()
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
    }
    const qs = search.toString()
    return `${this.baseUrl}${path}${qs ? `?${qs}` : ''}`
  }

  async request<T>(method: string, template: string,
                   options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const auth = options.auth ?? 'optional'
    // the scope at the time of the call: a route change while the token is read still aborts
    const scope = this.scope.signal
    let token = auth === 'none' ? null : await this.session.accessToken()
    if (auth === 'required' && !token) {
      throw new UnauthorizedError(401, { type: 'unauthenticated', title: 'Not logged in' })
    }
    let response = await this.send(method, template, options, token, scope)
    if (response.status === 401 && token) {
      // expired early or revoked: one refresh (shared with every other request), one retry
      token = await this.session.refresh(token)
      if (token) response = await this.send(method, template, options, token, scope)
      else this.session.clear('expired')
    }
    return this.read<T>(response, auth)
  }

  /** A fetch with the app's signal and token, for streams the JSON path cannot read. */
  async raw(url: string, init: RequestInit & { token?: string | null }): Promise<Response> {
    const headers = new Headers(init.headers)
    if (init.token) headers.set('Authorization', `Bearer ${init.token}`)
    try {
      return await this.fetchImpl(url, { ...init, headers })
    } catch (error) {
      throw this.transportError(error, init.signal ?? undefined)
    }
  }

  private async send(method: string, template: string, options: RequestOptions,
                     token: string | null, scope: AbortSignal = this.scope.signal): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers }
    if (token) headers.Authorization = `Bearer ${token}`
    let body: string | undefined
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(options.body)
    }
    const signals = [options.signal, options.scoped === false ? undefined : scope]
      .filter((s): s is AbortSignal => s !== undefined)
    const signal = signals.length ? anySignal(signals) : undefined
    const url = this.url(fillPath(template, options.path), options.query)
    const sentAt = this.monotonic()
    try {
      // Always revalidated (a 304 while unchanged): a copy the browser kept for the API's
      // `max-age` would carry an old `Date` and set the server clock back.
      const init: RequestInit = { method, headers, cache: 'no-cache' }
      if (body !== undefined) init.body = body
      if (signal) init.signal = signal
      const response = await this.fetchImpl(url, init)
      this.clock.observe(response.headers.get('Date'), sentAt, this.monotonic())
      return response
    } catch (error) {
      throw this.transportError(error, signal)
    }
  }

  private transportError(error: unknown, signal: AbortSignal | undefined): Error {
    if (signal?.aborted || (error instanceof DOMException && error.name === 'AbortError')) {
      return new AbortedError('aborted')
    }
    return new NetworkError(error instanceof Error ? error.message : String(error))
  }

  private async read<T>(response: Response, auth: Auth): Promise<ApiResponse<T>> {
    const type = response.headers.get('Content-Type') ?? ''
    let data: unknown = null
    if (response.status !== 204) {
      try {
        data = type.includes('json') ? await response.json() : await response.text()
      } catch (error) {
        if (error instanceof DOMException && error.name === 'AbortError') {
          throw new AbortedError('aborted')
        }
        if (response.ok) throw new NetworkError('the answer was cut off')
      }
    }
    if (!response.ok) {
      const problem: ProblemBody = data !== null && typeof data === 'object'
        ? (data as ProblemBody)
        : { title: response.statusText, status: response.status }
      const error = problemError(response.status, problem, parseRetryAfter(
        response.headers.get('Retry-After')))
      if (error instanceof UnauthorizedError && auth !== 'none') this.session.clear('expired')
      throw error
    }
    return { data: data as T, status: response.status, headers: response.headers }
  }

  private async refreshTokens(refreshToken: string): Promise<Tokens | null> {
    const response = await this.send('POST', '/api/v1/auth/tokens/refresh', {
      body: { refresh_token: refreshToken }, scoped: false,
    }, null)
    if (response.status === 401 || response.status === 403) return null
    return (await this.read<Tokens>(response, 'none')).data
  }
}
