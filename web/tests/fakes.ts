import type { Tokens } from '../src/api/types'

export interface Call {
  url: string
  method: string
  headers: Record<string, string>
  body: unknown
  cache?: RequestCache
}

type Responder = (call: Call) => Response | Promise<Response>

/** A fetch that records calls and answers from a script of responders, in order. */
export function fakeFetch(...script: Responder[]) {
  const calls: Call[] = []
  const fn = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const headers: Record<string, string> = {}
    new Headers(init.headers).forEach((v, k) => {
      headers[k] = v
    })
    const call = { url: String(input), method: init.method ?? 'GET', headers,
      body: init.body ? JSON.parse(String(init.body)) : undefined, cache: init.cache }
    calls.push(call)
    if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError')
    const responder = script.length > 1 ? script.shift() : script[0]
    if (!responder) throw new Error('no responder left')
    return responder(call)
  }
  return { fetch: fn as typeof fetch, calls }
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? 'application/problem+json' : 'application/json'
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': type, ...headers } })
}

export function problem(status: number, slug: string, headers: Record<string, string> = {}): Response {
  return json(status, { type: `https://coursestream.dev/problems/${slug}`, title: slug, status, detail: slug }, headers)
}

export function tokens(n: number, expiresIn = 900): Tokens {
  return {
    access_token: `access-${n}`, token_type: 'Bearer', expires_in: expiresIn,
    refresh_token: `refresh-${n}`, refresh_expires_in: 2_592_000,
    user: { id: 7, phone: '13900000000', roles: ['user'] },
  }
}
