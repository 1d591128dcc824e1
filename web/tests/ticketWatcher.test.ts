import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { NetworkError } from '../src/api/problems'
import type { Ticket } from '../src/api/types'
import { parseEvents, type EventSourceLike, type StreamEvent } from '../src/lib/eventStream'
import { watchTicket } from '../src/lib/ticketWatcher'

class FakeEventSource implements EventSourceLike {
  static last: FakeEventSource | null = null
  onerror: ((error: unknown) => void) | null = null
  closed = false
  private readonly listeners: Array<[string, (e: StreamEvent) => void]> = []
  constructor(readonly url: string) {
    FakeEventSource.last = this
  }
  addEventListener(type: string, listener: (e: StreamEvent) => void): void {
    this.listeners.push([type, listener])
  }
  close(): void {
    this.closed = true
  }
  emit(type: string, ticket: Ticket): void {
    for (const [t, l] of this.listeners) if (t === type) l({ data: JSON.stringify(ticket) })
  }
  fail(): void {
    this.onerror?.(new Error('stream failed'))
  }
}

const pending: Ticket = { ticket: '1-a', status: 'pending', order_id: null, reason: null }
const success: Ticket = { ticket: '1-a', status: 'success', order_id: 42, reason: null }

describe('ticket watcher', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('follows the event stream to the final status, no polling', async () => {
    const poll = vi.fn(async () => pending)
    const done = watchTicket({ eventsUrl: '/e', openStream: (u) => new FakeEventSource(u), poll })
    const source = FakeEventSource.last!
    source.emit('status', pending)
    source.emit('status', success)
    await expect(done).resolves.toEqual(success)
    expect(poll).not.toHaveBeenCalled()
    expect(source.closed).toBe(true)
  })

  it('falls back to polling every 2 s when the stream fails, through network errors', async () => {
    const answers: Array<Ticket | Error> = [pending, new NetworkError('down'), pending, success]
    const poll = vi.fn(async () => {
      const next = answers.shift()!
      if (next instanceof Error) throw next
      return next
    })
    const fallback = vi.fn()
    const done = watchTicket({ eventsUrl: '/e', openStream: (u) => new FakeEventSource(u), poll, onFallback: fallback })
    FakeEventSource.last!.fail()
    expect(fallback).toHaveBeenCalledOnce()
    await vi.advanceTimersByTimeAsync(0)
    expect(poll).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1999)
    expect(poll).toHaveBeenCalledTimes(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(poll).toHaveBeenCalledTimes(2)
    await vi.advanceTimersByTimeAsync(4000)
    await expect(done).resolves.toEqual(success)
    expect(poll).toHaveBeenCalledTimes(4)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(poll).toHaveBeenCalledTimes(4) // stopped once final
  })

  it('a stream that ends while pending (server timeout) also falls back', async () => {
    const poll = vi.fn(async () => success)
    const done = watchTicket({ eventsUrl: '/e', openStream: (u) => new FakeEventSource(u), poll })
    FakeEventSource.last!.emit('status', pending)
    FakeEventSource.last!.fail()
    await expect(done).resolves.toEqual(success)
  })

  it('stops when aborted (the page was left)', async () => {
    const controller = new AbortController()
    const poll = vi.fn(async () => pending)
    const done = watchTicket({ eventsUrl: '/e', openStream: (u) => new FakeEventSource(u), poll, signal: controller.signal })
    FakeEventSource.last!.fail()
    controller.abort()
    await expect(done).rejects.toMatchObject({ name: 'AbortedError' })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(poll).toHaveBeenCalledTimes(1)
  })
})

describe('server-sent events parsing', () => {
  it('splits events, skips comments, keeps the unfinished tail', () => {
    const { events, rest } = parseEvents(': keep-alive\n\nevent: status\ndata: {"a":1}\n\nevent: sta')
    expect(events).toEqual([{ type: 'status', data: '{"a":1}' }])
    expect(rest).toBe('event: sta')
  })
})
