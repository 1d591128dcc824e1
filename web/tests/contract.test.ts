import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { PHONE_PATTERN } from '../src/lib/phone'
import { messages } from '../src/i18n/messages'

const doc = JSON.parse(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8'))

describe('the client and the API document agree', () => {
  it('checks phones with the API rule', () => {
    expect(doc.components.schemas.TokenRequest.properties.phone.pattern).toBe(PHONE_PATTERN.source)
    expect(doc.components.schemas.CodeRequest.properties.phone.pattern).toBe(PHONE_PATTERN.source)
  })
})

describe('messages', () => {
  it('every language has every text', () => {
    expect(Object.keys(messages.en).sort()).toEqual(Object.keys(messages.zh).sort())
    for (const text of Object.values(messages.en)) expect(text.trim()).not.toBe('')
  })
})
