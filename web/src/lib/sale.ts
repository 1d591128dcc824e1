import type { SaleItem, SaleState } from '../api/types'

/** A sale's state on the server's clock, so a countdown reaching zero opens the sale without
 * a reload; stock comes from the last answer. */
export function saleState(item: Pick<SaleItem, 'starts_at' | 'ends_at' | 'remaining'>, now: number): SaleState {
  if (now >= Date.parse(item.ends_at)) return 'ended'
  if (now < Date.parse(item.starts_at)) return 'upcoming'
  if (item.remaining <= 0) return 'sold_out'
  return 'live'
}
