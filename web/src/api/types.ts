/**
 * The API's shapes. Paths, query parameters and request bodies come from the generated
 * `schema.d.ts` (`npm run gen:api`, from web/openapi.json, which `coursestream openapi`
 * builds from the services' code). The documents describe answers in words only
 * ("{id,title,...}"), so answer shapes are written here, after docs/*.md and the
 * serializers; tests/web/test_openapi_drift.py checks those words against these fields.
 */
import type { components, paths } from './schema'

export type ApiPath = keyof paths
type Schemas = components['schemas']

export type TokenRequest = Partial<Pick<Schemas['TokenRequest'], 'code' | 'password'>> &
  Pick<Schemas['TokenRequest'], 'phone'>
export type CodeRequest = Schemas['CodeRequest']
export type RefreshRequest = Schemas['RefreshRequest']
export type CourseQuery = NonNullable<paths['/api/v1/catalog/courses']['get']['parameters']['query']>
export type CourseKind = NonNullable<CourseQuery['kind']>
export type CourseOrdering = NonNullable<CourseQuery['ordering']>

export interface Page<T> {
  count: number
  next: string | null
  previous: string | null
  results: T[]
}

export interface User {
  id: number
  phone: string
  roles: string[]
}

export interface Tokens {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  refresh_token: string
  refresh_expires_in: number
  user: User
}

export interface CodeSent {
  expires_in: number
  resend_after: number
}

export interface Banner {
  id: number
  title: string
  image: string
  link: string
  info: string
  orders: number
}

export interface Category {
  id: number
  name: string
}

export interface TeacherBrief {
  id: number
  name: string
  role: 0 | 1 | 2
  title: string
  image: string | null
}

export interface Teacher extends TeacherBrief {
  signature: string | null
  brief: string
}

export interface SectionBrief {
  chapter: number
  orders: number
  name: string
  section_type: 0 | 1 | 2
  duration: string | null
  free_trail: boolean
}

export interface Section extends SectionBrief {
  id: number
  section_link: string | null
  pub_date: string
}

export interface Chapter {
  id: number
  chapter: number
  name: string
  summary: string | null
  sections: Section[]
}

export interface Course {
  id: number
  name: string
  kind: CourseKind
  course_type: 0 | 1 | 2
  level: 0 | 1 | 2
  status: 0 | 1 | 2
  brief: string | null
  course_img: string | null
  students: number
  sections: number
  pub_sections: number
  price: string
  period: number
  teacher: TeacherBrief | null
  category: Category | null
  section_list: SectionBrief[]
}

export interface CourseDetail extends Omit<Course, 'teacher'> {
  teacher: Teacher | null
  chapters: Chapter[]
  pub_date: string
}

export type SaleState = 'upcoming' | 'live' | 'sold_out' | 'ended'

export interface SaleItem {
  id: number
  course_id: number
  title: string
  price: string
  stock: number
  remaining: number
  starts_at: string
  ends_at: string
  state: SaleState
}

export interface Attempt {
  ticket: string
  status: 'pending'
  links: { self: string; events: string }
}

export type TicketStatus = 'pending' | 'success' | 'failed'

export interface Ticket {
  ticket: string
  status: TicketStatus
  order_id: number | null
  reason: string | null
}

export type OrderStatus = 'unpaid' | 'paid' | 'expired'

export interface Order {
  id: number
  item_id: number
  user_id: number
  ticket: string
  price: string
  status: OrderStatus
  created_at: string
  pay_by: string
  paid_at: string | null
}
