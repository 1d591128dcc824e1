/**
 * A course list's view lives in the address: `?category=3&ordering=-price&search=py&page=2`.
 * Defaults are left out, so the plain path is the default view and links stay short.
 */
import type { CourseOrdering } from '../api/types'

export interface CourseListState {
  category: number | null
  ordering: CourseOrdering
  search: string
  page: number
}

export type OrderingChoice = 'default' | 'popular' | 'price'

export const DEFAULT_STATE: CourseListState = { category: null, ordering: 'orders', search: '', page: 1 }
const ORDERINGS: readonly CourseOrdering[] = [
  'orders', '-orders', 'id', '-id', 'price', '-price', 'students', '-students',
]

type RawQuery = Record<string, string | null | Array<string | null> | undefined>

function first(value: RawQuery[string]): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return v ?? undefined
}

function positiveInt(value: string | undefined): number | null {
  return value !== undefined && /^[1-9]\d{0,8}$/.test(value) ? Number(value) : null
}

/** The state a query string asks for; anything malformed reads as the default. */
export function fromQuery(query: RawQuery): CourseListState {
  const ordering = first(query.ordering)
  return {
    category: positiveInt(first(query.category)),
    ordering: ORDERINGS.includes(ordering as CourseOrdering) ? (ordering as CourseOrdering) : 'orders',
    search: (first(query.search) ?? '').slice(0, 100),
    page: positiveInt(first(query.page)) ?? 1,
  }
}

export function toQuery(state: CourseListState): Record<string, string> {
  const query: Record<string, string> = {}
  if (state.category !== null) query.category = String(state.category)
  if (state.ordering !== 'orders') query.ordering = state.ordering
  if (state.search.trim()) query.search = state.search.trim()
  if (state.page > 1) query.page = String(state.page)
  return query
}

export function choiceOf(ordering: CourseOrdering): OrderingChoice {
  if (ordering === 'price' || ordering === '-price') return 'price'
  if (ordering === '-students' || ordering === 'students') return 'popular'
  return 'default'
}

/** The ordering a click on `choice` gives: price toggles ascending / descending. */
export function toggleOrdering(current: CourseOrdering, choice: OrderingChoice): CourseOrdering {
  if (choice === 'default') return 'orders'
  if (choice === 'popular') return '-students'
  return current === 'price' ? '-price' : 'price'
}

/** A change of filter starts again at page 1; a change of page keeps the rest. */
export function withChange(state: CourseListState, change: Partial<CourseListState>): CourseListState {
  const page = change.page ?? 1
  return { ...state, ...change, page }
}
