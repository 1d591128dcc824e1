import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ServerClock, formatRemaining, remaining } from '../src/lib/clock'
import { saleState } from '../src/lib/sale'

describe('server clock', () => {
  beforeEach(() => {
    vi.useFakeTimers()
    // the machine's clock is 10 minutes slow
    vi.setSystemTime(new Date('2026-12-03T09:50:00.000Z'))
  })
  afterEach(() => vi.useRealTimers())

  const monotonic = (): number => Date.now() - Date.parse('2026-12-03T00:00:00Z')

  it('follows the Date header, not the machine', () => {
    const clock = new ServerClock(monotonic)
    const sent = monotonic()
    vi.advanceTimersByTime(40)
    clock.observe('Thu, 03 Dec 2026 10:00:00 GMT', sent, monotonic())
    const estimate = clock.now()
    expect(Math.abs(estimate - Date.parse('2026-12-03T10:00:00.500Z'))).toBeLessThanOrEqual(540)
    vi.advanceTimersByTime(5000)
    expect(clock.now() - estimate).toBe(5000)
  })

  it('narrows over answers landing at different sub-second phases', () => {
    // true server time = machine + 600 000 ms + 300 ms
    const serverAt = (): number => Date.now() + 600_300
    const clock = new ServerClock(monotonic)
    for (let i = 0; i < 8; i += 1) {
      const sent = monotonic()
      vi.advanceTimersByTime(10)
      const header = new Date(Math.floor(serverAt() / 1000) * 1000).toUTCString()
      clock.observe(header, sent, monotonic())
      vi.advanceTimersByTime(137)
    }
    expect(Math.abs(clock.now() - serverAt())).toBeLessThan(120)
  })

  it('a countdown on the server clock opens the sale on time although the machine is slow', () => {
    const clock = new ServerClock(monotonic)
    const sent = monotonic()
    clock.observe('Thu, 03 Dec 2026 10:00:00 GMT', sent, sent)
    const item = { starts_at: '2026-12-03T10:00:05Z', ends_at: '2026-12-03T11:00:00Z', remaining: 3 }
    expect(saleState(item, clock.now())).toBe('upcoming')
    expect(formatRemaining(remaining(Date.parse(item.starts_at), clock.now()), 'd')).toBe('00:05')
    vi.advanceTimersByTime(5000)
    expect(saleState(item, clock.now())).toBe('live')
    // the machine alone would have waited ten more minutes
    expect(saleState(item, Date.now())).toBe('upcoming')
    vi.advanceTimersByTime(3_600_000)
    expect(saleState(item, clock.now())).toBe('ended')
    expect(saleState({ ...item, remaining: 0, ends_at: '2026-12-04T00:00:00Z' }, clock.now())).toBe('sold_out')
  })

  it('formats what is left', () => {
    expect(formatRemaining(remaining(90_061_000, 0), '天')).toBe('1天 01:01:01')
    expect(formatRemaining(remaining(61_000, 0), 'd')).toBe('01:01')
    expect(remaining(0, 5).total).toBe(0)
  })
})
