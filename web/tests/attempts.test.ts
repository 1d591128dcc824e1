import { describe, expect, it } from 'vitest'
import { ApiClient } from '../src/api/client'
import { ConflictError, NetworkError } from '../src/api/problems'
import { MemoryStore, Session } from '../src/api/session'
import type { Attempt } from '../src/api/types'
import { AttemptSender } from '../src/lib/attempts'
import { fakeFetch, json, problem, tokens } from './fakes'

const ATTEMPT: Attempt = { ticket: '1-abc', status: 'pending', links: { self: '/t/1-abc', events: '/t/1-abc/events' } }

function sender(fetch: typeof globalThis.fetch) {
  const session = new Session(new MemoryStore())
  session.set(tokens(1))
  const api = new ApiClient({ fetch, session })
  let n = 0
  return new AttemptSender((key) => api.post<Attempt>('/api/v1/seckill/items/{id}/attempts', {
    path: { id: 1 }, headers: { 'Idempotency-Key': key }, auth: 'required',
  }).then((r) => r.data), () => `key-${++n}`)
}

describe('Idempotency-Key', () => {
  it('a double click sends one attempt', async () => {
    const { fetch, calls } = fakeFetch(() => json(202, ATTEMPT))
    const s = sender(fetch)
    const [a, b] = await Promise.all([s.attempt(), s.attempt()])
    expect(a).toBe(b)
    expect(calls).toHaveLength(1)
    expect(calls[0]?.headers['idempotency-key']).toBe('key-1')
  })

  it('a retry after a network error or a 503 reuses the key', async () => {
    const { fetch, calls } = fakeFetch(
      () => {
        throw new TypeError('Failed to fetch')
      },
      () => problem(503, 'not-ready'),
      () => json(202, ATTEMPT),
    )
    const s = sender(fetch)
    await expect(s.attempt()).rejects.toBeInstanceOf(NetworkError)
    await expect(s.attempt()).rejects.toMatchObject({ status: 503 })
    await expect(s.attempt()).resolves.toEqual(ATTEMPT)
    expect(calls.map((c) => c.headers['idempotency-key'])).toEqual(['key-1', 'key-1', 'key-1'])
  })

  it('after a definitive answer the next attempt has a new key', async () => {
    const { fetch, calls } = fakeFetch(() => problem(409, 'not-started'), () => json(202, ATTEMPT), () => json(202, ATTEMPT))
    const s = sender(fetch)
    await expect(s.attempt()).rejects.toBeInstanceOf(ConflictError)
    await s.attempt()
    await s.attempt()
    expect(calls.map((c) => c.headers['idempotency-key'])).toEqual(['key-1', 'key-2', 'key-3'])
  })
})
