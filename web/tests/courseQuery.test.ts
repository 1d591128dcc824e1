import { describe, expect, it } from 'vitest'
import { choiceOf, fromQuery, toQuery, toggleOrdering, withChange } from '../src/lib/courseQuery'

describe('ordering row', () => {
  it('price toggles ascending and descending; the others are fixed', () => {
    expect(toggleOrdering('orders', 'price')).toBe('price')
    expect(toggleOrdering('price', 'price')).toBe('-price')
    expect(toggleOrdering('-price', 'price')).toBe('price')
    expect(toggleOrdering('-price', 'popular')).toBe('-students')
    expect(toggleOrdering('-students', 'default')).toBe('orders')
    expect(choiceOf('-price')).toBe('price')
    expect(choiceOf('-students')).toBe('popular')
  })
})

describe('the view in the address', () => {
  it('round-trips and leaves defaults out', () => {
    const state = { category: 3, ordering: '-price' as const, search: 'py', page: 2 }
    expect(toQuery(state)).toEqual({ category: '3', ordering: '-price', search: 'py', page: '2' })
    expect(fromQuery(toQuery(state))).toEqual(state)
    expect(toQuery(fromQuery({}))).toEqual({})
  })

  it('reads anything malformed as the default', () => {
    expect(fromQuery({ category: 'x', ordering: 'name', page: '-1' }))
      .toEqual({ category: null, ordering: 'orders', search: '', page: 1 })
    expect(fromQuery({ category: ['4', '5'] }).category).toBe(4)
  })

  it('a new filter starts at page 1, a page change keeps the filter', () => {
    const state = { category: 3, ordering: 'price' as const, search: '', page: 4 }
    expect(withChange(state, { category: 5 })).toMatchObject({ category: 5, page: 1, ordering: 'price' })
    expect(withChange(state, { page: 2 })).toMatchObject({ category: 3, page: 2 })
  })
})
