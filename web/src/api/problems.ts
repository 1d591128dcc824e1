/** problem+json answers (RFC 9457) and transport failures, as typed errors. */

export interface ProblemBody {
  type?: string
  title?: string
  status?: number
  detail?: string
  errors?: Array<{ loc?: unknown[]; msg?: string; type?: string; field?: string }>
}

/** The last path segment of a problem type: ".../problems/sold-out" -> "sold-out". */
export function slugOf(type: string | undefined): string {
  if (!type || type === 'about:blank') return ''
  return type.replace(/\/+$/, '').split('/').pop() ?? ''
}

/** Seconds from a Retry-After header: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null || value.trim() === '') return null
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}

export class ApiError extends Error {
  readonly status: number
  readonly slug: string
  readonly problem: ProblemBody
  readonly retryAfter: number | null

  constructor(status: number, problem: ProblemBody, retryAfter: number | null = null) {
    super(problem.detail || problem.title || `HTTP ${status}`)
    this.name = 'ApiError'
    this.status = status
    this.slug = slugOf(problem.type)
    this.problem = problem
    this.retryAfter = retryAfter
  }
}

/** 401: no token, or one the server no longer accepts. */
export class UnauthorizedError extends ApiError {
  override name = 'UnauthorizedError'
}
/** 429: wait `retryAfter` seconds. */
export class RateLimitedError extends ApiError {
  override name = 'RateLimitedError'
}
/** 409: a refusal with a reason in `slug` (sold-out, already-purchased, expired...). */
export class ConflictError extends ApiError {
  override name = 'ConflictError'
}
export class NotFoundError extends ApiError {
  override name = 'NotFoundError'
}
/** 400/422 with `errors`. */
export class ValidationError extends ApiError {
  override name = 'ValidationError'
}
/** 502/503/504: the platform, not the request, is at fault; worth a retry. */
export class UnavailableError extends ApiError {
  override name = 'UnavailableError'
}

/** The request never got an answer (offline, connection refused, cut). */
export class NetworkError extends Error {
  override name = 'NetworkError'
}

/** The request was aborted (the route changed); never shown to anyone. */
export class AbortedError extends Error {
  override name = 'AbortedError'
}

export function problemError(status: number, body: ProblemBody, retryAfter: number | null): ApiError {
  if (status === 401) return new UnauthorizedError(status, body, retryAfter)
  if (status === 429) return new RateLimitedError(status, body, retryAfter)
  if (status === 409) return new ConflictError(status, body, retryAfter)
  if (status === 404) return new NotFoundError(status, body, retryAfter)
  if (status === 400 || status === 422) return new ValidationError(status, body, retryAfter)
  if (status === 502 || status === 503 || status === 504) {
    return new UnavailableError(status, body, retryAfter)
  }
  return new ApiError(status, body, retryAfter)
}

/** Errors a "retry" button can fix. */
export function isRetryable(error: unknown): boolean {
  return error instanceof NetworkError || error instanceof UnavailableError
}
