import { describe, expect, it } from 'vitest'
import { ApiClient, fillPath } from '../src/api/client'
import {
  AbortedError, ConflictError, NetworkError, NotFoundError, RateLimitedError, UnauthorizedError,
  UnavailableError, ValidationError, isRetryable, parseRetryAfter,
} from '../src/api/problems'
import { MemoryStore, Session } from '../src/api/session'
import { fakeFetch, json, problem, tokens } from './fakes'

function client(fetch: typeof globalThis.fetch, loggedIn = false) {
  const session = new Session(new MemoryStore())
  if (loggedIn) session.set(tokens(1))
  return { api: new ApiClient({ fetch, session }), session }
}

describe('problem+json mapping', () => {
  it.each([
    [409, 'sold-out', ConflictError],
    [409, 'already-purchased', ConflictError],
    [404, 'not-found', NotFoundError],
    [422, 'validation-error', ValidationError],
    [429, 'rate-limited', RateLimitedError],
    [503, 'not-ready', UnavailableError],
    [502, 'upstream-unavailable', UnavailableError],
    [504, 'upstream-timeout', UnavailableError],
  ])('%i %s', async (status, slug, type) => {
    const { fetch } = fakeFetch(() => problem(status, slug, { 'Retry-After': '7' }))
    const error = await client(fetch).api.get('/api/v1/seckill/items').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(type)
    expect(error).toMatchObject({ status, slug, retryAfter: 7 })
  })

  it('an answer that is not JSON (a proxy page) still becomes a typed error', async () => {
    const { fetch } = fakeFetch(() => new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }))
    const error = await client(fetch).api.get('/api/v1/seckill/items').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnavailableError)
    expect(isRetryable(error)).toBe(true)
  })

  it('a failed fetch is a NetworkError, retryable', async () => {
    const { fetch } = fakeFetch(() => {
      throw new TypeError('Failed to fetch')
    })
    const error = await client(fetch).api.get('/api/v1/catalog/banners').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NetworkError)
    expect(isRetryable(error)).toBe(true)
  })

  it('Retry-After as seconds or as a date', () => {
    expect(parseRetryAfter('12')).toBe(12)
    expect(parseRetryAfter('Thu, 03 Dec 2026 10:00:30 GMT', Date.parse('2026-12-03T10:00:00Z'))).toBe(30)
    expect(parseRetryAfter(null)).toBeNull()
  })
})

describe('requests', () => {
  it('fills path parameters, drops empty query values, sends the token', async () => {
    const { fetch, calls } = fakeFetch(() => json(200, { ok: true }))
    const { api } = client(fetch, true)
    await api.get('/api/v1/catalog/courses/{id}', { path: { id: 5 }, query: { a: 1, b: null, c: '' } })
    expect(calls[0]?.url).toBe('/api/v1/catalog/courses/5?a=1')
    expect(calls[0]?.headers.authorization).toBe('Bearer access-1')
    expect(fillPath('/x/{ticket}', { ticket: 'a b' })).toBe('/x/a%20b')
  })

  it('every API read is revalidated, never taken from the browser cache unasked', async () => {
    // the server clock reads `Date`: a kept copy would carry its old one
    const { fetch, calls } = fakeFetch(() => json(200, []))
    await client(fetch).api.get('/api/v1/catalog/categories')
    expect(calls[0]?.cache).toBe('no-cache')
  })

  it('a route change aborts what the old page was waiting for', async () => {
    let release: (r: Response) => void = () => undefined
    const fetch = ((_: unknown, init: RequestInit) => new Promise<Response>((resolve, reject) => {
      if (init.signal?.aborted) return reject(new DOMException('aborted', 'AbortError'))
      release = resolve
      init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))
    })) as unknown as typeof globalThis.fetch
    const { api } = client(fetch)
    const pending = api.get('/api/v1/catalog/banners').catch((e: unknown) => e)
    const kept = api.get('/api/v1/catalog/categories', { scoped: false })
    api.newScope()
    expect(await pending).toBeInstanceOf(AbortedError)
    await new Promise((r) => setTimeout(r, 0))
    release(json(200, []))
    await expect(kept).resolves.toMatchObject({ status: 200 })
  })

  it('required auth without a session fails before any request', async () => {
    const { fetch, calls } = fakeFetch(() => json(200, {}))
    await expect(client(fetch).api.get('/api/v1/seckill/orders', { auth: 'required' }))
      .rejects.toBeInstanceOf(UnauthorizedError)
    expect(calls).toHaveLength(0)
  })
})

describe('401 and the refresh token', () => {
  it('a 401 refreshes once and retries with the new token', async () => {
    const { fetch, calls } = fakeFetch(
      () => problem(401, 'invalid-token'),
      () => json(200, tokens(2)),
      () => json(200, { count: 0, results: [] }),
    )
    const { api, session } = client(fetch, true)
    const { data } = await api.get<{ count: number }>('/api/v1/seckill/orders', { auth: 'required' })
    expect(data.count).toBe(0)
    expect(calls.map((c) => c.url)).toEqual(['/api/v1/seckill/orders', '/api/v1/auth/tokens/refresh', '/api/v1/seckill/orders'])
    expect(calls[1]?.body).toEqual({ refresh_token: 'refresh-1' })
    expect(calls[2]?.headers.authorization).toBe('Bearer access-2')
    expect(session.current?.refresh).toBe('refresh-2')
  })

  it('a refused refresh drops the session and tells its listeners', async () => {
    const { fetch } = fakeFetch(() => problem(401, 'invalid-token'), () => problem(401, 'refresh-token-reused'))
    const { api, session } = client(fetch, true)
    const reasons: Array<string | undefined> = []
    session.subscribe((_, reason) => reasons.push(reason))
    await expect(api.get('/api/v1/seckill/orders', { auth: 'required' })).rejects.toBeInstanceOf(UnauthorizedError)
    expect(session.current).toBeNull()
    expect(reasons).toEqual(['expired'])
  })

  it('a token about to expire is refreshed before the request, once for many requests', async () => {
    const { fetch, calls } = fakeFetch((call) => call.url.endsWith('/refresh') ? json(200, tokens(2)) : json(200, []))
    const session = new Session(new MemoryStore())
    session.set(tokens(1, 30)) // 30 s left: inside the refresh margin
    const api = new ApiClient({ fetch, session })
    await Promise.all([api.get('/api/v1/catalog/banners'), api.get('/api/v1/catalog/categories'), api.get('/api/v1/seckill/items')])
    expect(calls.filter((c) => c.url.endsWith('/refresh'))).toHaveLength(1)
    expect(calls.filter((c) => !c.url.endsWith('/refresh')).every((c) => c.headers.authorization === 'Bearer access-2')).toBe(true)
  })

  it('a login answer of 401 (wrong password) leaves the session alone', async () => {
    const { fetch } = fakeFetch(() => problem(401, 'invalid-credentials'))
    const { api, session } = client(fetch, true)
    const error = await api.post('/api/v1/auth/tokens', { auth: 'none', body: {} }).catch((e: unknown) => e)
    expect(error).toMatchObject({ slug: 'invalid-credentials' })
    expect(session.current).not.toBeNull()
  })
})
