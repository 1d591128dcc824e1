import { describe, expect, it } from 'vitest'
import { MemoryStore, Session, maskPhone, type LockManagerLike } from '../src/api/session'
import { tokens } from './fakes'

/** Web Locks for two "tabs" in one test: callbacks for one name run one after another. */
function fakeLocks(): LockManagerLike {
  let chain: Promise<unknown> = Promise.resolve()
  return {
    request<T>(_name: string, callback: () => Promise<T>): Promise<T> {
      const run = chain.then(callback)
      chain = run.catch(() => undefined)
      return run
    },
  }
}

describe('session shared by tabs', () => {
  it('two tabs refreshing at once spend the refresh token once', async () => {
    const store = new MemoryStore()
    const locks = fakeLocks()
    const a = new Session(store, locks)
    a.set(tokens(1, 10))
    const b = new Session(store, locks)
    const used: string[] = []
    const refresher = async (token: string) => {
      used.push(token)
      await new Promise((r) => setTimeout(r, 5))
      return tokens(Number(token.split('-')[1]) + 1)
    }
    a.refresher = refresher
    b.refresher = refresher
    const [ta, tb] = await Promise.all([a.refresh('access-1'), b.refresh('access-1')])
    expect(used).toEqual(['refresh-1'])
    expect(ta).toBe('access-2')
    expect(tb).toBe('access-2')
  })

  it('a reload keeps the session; a log out in another tab reaches this one', () => {
    const store = new MemoryStore()
    const a = new Session(store)
    a.set(tokens(1))
    const b = new Session(store)
    expect(b.current?.access).toBe('access-1')
    const seen: unknown[] = []
    b.subscribe((s) => seen.push(s))
    a.clear('logout')
    b.reload()
    expect(b.current).toBeNull()
    expect(seen).toEqual([null])
  })

  it('masks the phone', () => {
    expect(maskPhone('13900001234')).toBe('139****1234')
  })
})
