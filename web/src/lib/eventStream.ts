/**
 * Server-sent events over fetch. The ticket stream wants the bearer token in
 * `Authorization`, which a browser's EventSource cannot send, so this reads the body with a
 * stream reader and parses `event:` / `data:` lines. It behaves like an EventSource that
 * never reconnects: `onerror` fires once when the stream fails or ends.
 */
export interface StreamEvent {
  data: string
}

export interface EventSourceLike {
  addEventListener(type: string, listener: (event: StreamEvent) => void): void
  onerror: ((error: unknown) => void) | null
  close(): void
}

export type EventSourceFactory = (url: string) => EventSourceLike

/** Split SSE text into events; returns them and the unfinished tail. */
export function parseEvents(buffer: string): { events: Array<{ type: string; data: string }>; rest: string } {
  const events: Array<{ type: string; data: string }> = []
  const blocks = buffer.replace(/\r\n?/g, '\n').split('\n\n')
  const rest = blocks.pop() ?? ''
  for (const block of blocks) {
    let type = 'message'
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue // comment (keep-alive)
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') type = value
      else if (field === 'data') data.push(value)
    }
    if (data.length) events.push({ type, data: data.join('\n') })
  }
  return { events, rest }
}

export class FetchEventSource implements EventSourceLike {
  onerror: ((error: unknown) => void) | null = null
  private readonly listeners = new Map<string, Array<(event: StreamEvent) => void>>()
  private readonly controller = new AbortController()
  private closed = false

  constructor(url: string, open: (url: string, signal: AbortSignal) => Promise<Response>) {
    void this.run(url, open)
  }

  addEventListener(type: string, listener: (event: StreamEvent) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }

  close(): void {
    this.closed = true
    this.controller.abort()
  }

  private async run(url: string, open: (url: string, signal: AbortSignal) => Promise<Response>) {
    try {
      const response = await open(url, this.controller.signal)
      if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`)
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        const parsed = parseEvents(buffer + value)
        buffer = parsed.rest
        for (const event of parsed.events) {
          for (const listener of this.listeners.get(event.type) ?? []) listener({ data: event.data })
        }
      }
      throw new Error('event stream ended')
    } catch (error) {
      if (!this.closed) {
        this.closed = true
        this.onerror?.(error)
      }
    }
  }
}
