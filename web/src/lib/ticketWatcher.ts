/**
 * Follows a seckill ticket until it is final: its event stream first (`links.events`), then,
 * when the stream fails or ends early, polling `GET /tickets/{ticket}` every 2 s.
 */
import { AbortedError, NotFoundError } from '../api/problems'
import type { Ticket } from '../api/types'
import type { EventSourceFactory } from './eventStream'

export interface WatchOptions {
  eventsUrl: string
  openStream: EventSourceFactory
  poll: () => Promise<Ticket>
  intervalMs?: number
  signal?: AbortSignal
  /** Called with every status seen (pending ones too). */
  onUpdate?: (ticket: Ticket) => void
  /** Called once, when the watcher falls back to polling. */
  onFallback?: (reason: unknown) => void
}

const isFinal = (t: Ticket): boolean => t.status === 'success' || t.status === 'failed'

export function watchTicket(options: WatchOptions): Promise<Ticket> {
  const interval = options.intervalMs ?? 2000
  return new Promise<Ticket>((resolve, reject) => {
    let settled = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = (result: Ticket | Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      source?.close()
      options.signal?.removeEventListener('abort', onAbort)
      if (result instanceof Error) reject(result)
      else resolve(result)
    }
    const onAbort = (): void => finish(new AbortedError('aborted'))
    if (options.signal?.aborted) {
      finish(new AbortedError('aborted'))
      return
    }
    options.signal?.addEventListener('abort', onAbort)

    const pollOnce = async (): Promise<void> => {
      if (settled) return
      try {
        const ticket = await options.poll()
        options.onUpdate?.(ticket)
        if (isFinal(ticket)) return finish(ticket)
      } catch (error) {
        if (error instanceof AbortedError || error instanceof NotFoundError) {
          return finish(error)
        }
        // network down, 5xx, 429: keep trying at the same pace
      }
      if (!settled) timer = setTimeout(() => void pollOnce(), interval)
    }

    let fellBack = false
    const fallBack = (reason: unknown): void => {
      if (settled || fellBack) return
      fellBack = true
      source?.close()
      options.onFallback?.(reason)
      void pollOnce()
    }

    let source: ReturnType<EventSourceFactory> | undefined
    try {
      source = options.openStream(options.eventsUrl)
    } catch (error) {
      fallBack(error)
      return
    }
    source.addEventListener('status', (event) => {
      try {
        const ticket = JSON.parse(event.data) as Ticket
        options.onUpdate?.(ticket)
        if (isFinal(ticket)) finish(ticket)
      } catch (error) {
        fallBack(error)
      }
    })
    source.onerror = (error) => fallBack(error)
  })
}
