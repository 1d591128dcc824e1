/**
 * One flash-sale attempt per intent. A click sends one `POST .../attempts` with an
 * `Idempotency-Key`; a second click while it is in flight gets the same promise (no second
 * request), and a retry after a network error, a 5xx or a 429 sends the same key again, so
 * the server hands back the ticket it may already have made. The key is dropped once an
 * answer is definitive (a ticket, or a refusal such as sold out).
 */
import { ConflictError, NetworkError, RateLimitedError, UnavailableError } from '../api/problems'
import type { Attempt } from '../api/types'

export type SendAttempt = (idempotencyKey: string) => Promise<Attempt>

export function newKey(): string {
  return typeof crypto !== 'undefined' && 'randomUUID' in crypto
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
}

export class AttemptSender {
  private key: string | null = null
  private inFlight: Promise<Attempt> | null = null

  constructor(private readonly send: SendAttempt, private readonly makeKey: () => string = newKey) {}

  get pending(): boolean {
    return this.inFlight !== null
  }

  attempt(): Promise<Attempt> {
    if (this.inFlight) return this.inFlight
    this.key ??= this.makeKey()
    const key = this.key
    this.inFlight = this.send(key).then(
      (attempt) => {
        this.key = null
        return attempt
      },
      (error: unknown) => {
        const retryable = error instanceof NetworkError || error instanceof UnavailableError ||
          error instanceof RateLimitedError
        if (!retryable || error instanceof ConflictError) this.key = null
        throw error
      },
    ).finally(() => {
      this.inFlight = null
    })
    return this.inFlight
  }
}
