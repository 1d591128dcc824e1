import { api } from '../app'
import type { Order } from '../api/types'

export async function payOrder(id: number): Promise<Order> {
  return (await api.post<Order>('/api/v1/seckill/orders/{id}/payment', {
    path: { id }, auth: 'required', scoped: false })).data
}
