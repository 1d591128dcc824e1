/**
 * The server's clock, as seen through the `Date` header of the API's answers. A header has
 * whole seconds only, so each answer says: the server's time at our receive moment lies in
 * [Date, Date + 1 s) shifted back by the time the answer took to reach us. The estimate
 * keeps the intersection of those intervals over answers (it narrows as answers land at
 * different sub-second phases) and reads the midpoint. The offset is taken against a
 * monotonic clock, so a user changing the machine's clock does not move it.
 */
export class ServerClock {
  private low = -Infinity
  private high = Infinity
  private samples = 0

  constructor(
    private readonly monotonic: () => number = () => performance.now(),
    private readonly wall: () => number = Date.now,
  ) {}

  /** One answer: its `Date` header, and the monotonic times the request left and came back. */
  observe(dateHeader: string | null, sentAt: number, receivedAt: number): void {
    if (!dateHeader) return
    const server = Date.parse(dateHeader)
    if (Number.isNaN(server)) return
    // server time at `receivedAt` is in [server, server + 1000 + (receivedAt - sentAt)]
    const low = server - receivedAt
    const high = server + 1000 + (receivedAt - sentAt) - receivedAt
    if (this.samples === 0 || low > this.high || high < this.low) {
      this.low = low // first answer, or the server's clock jumped: start again
      this.high = high
    } else {
      this.low = Math.max(this.low, low)
      this.high = Math.min(this.high, high)
    }
    this.samples += 1
  }

  get synced(): boolean {
    return this.samples > 0
  }

  /** Milliseconds since the epoch on the server's clock (the machine's until synced). */
  now(): number {
    if (!this.synced) return this.wall()
    return this.monotonic() + (this.low + this.high) / 2
  }
}

export interface Remaining {
  total: number
  days: number
  hours: number
  minutes: number
  seconds: number
}

export function remaining(targetMs: number, nowMs: number): Remaining {
  const total = Math.max(0, targetMs - nowMs)
  const s = Math.ceil(total / 1000)
  return {
    total,
    days: Math.floor(s / 86_400),
    hours: Math.floor((s % 86_400) / 3600),
    minutes: Math.floor((s % 3600) / 60),
    seconds: s % 60,
  }
}

const pad = (n: number): string => String(n).padStart(2, '0')

/** "2d 03:04:05" style, with the day word given; "04:05" under an hour. */
export function formatRemaining(r: Remaining, dayWord: string): string {
  const clock = r.days || r.hours ? `${pad(r.hours)}:${pad(r.minutes)}:${pad(r.seconds)}`
    : `${pad(r.minutes)}:${pad(r.seconds)}`
  return r.days ? `${r.days}${dayWord} ${clock}` : clock
}
