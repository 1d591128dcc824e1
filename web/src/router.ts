import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { api } from './app'

const CourseList = () => import('./views/CourseListView.vue')

const routes: RouteRecordRaw[] = [
  { path: '/', name: 'home', component: () => import('./views/HomeView.vue') },
  { path: '/free-course', name: 'free', component: CourseList, props: { kind: 'free' } },
  { path: '/actual-course', name: 'actual', component: CourseList, props: { kind: 'actual' } },
  { path: '/light-course', name: 'light', component: CourseList, props: { kind: 'light' } },
  { path: '/course/:id(\\d+)', name: 'course', component: () => import('./views/CourseView.vue'),
    props: (route) => ({ id: Number(route.params.id) }) },
  { path: '/login', name: 'login', component: () => import('./views/LoginView.vue') },
  { path: '/seckill', name: 'seckill', component: () => import('./views/SeckillListView.vue') },
  { path: '/seckill/:id(\\d+)', name: 'sale', component: () => import('./views/SaleView.vue'),
    props: (route) => ({ id: Number(route.params.id) }) },
  { path: '/orders', name: 'orders', component: () => import('./views/OrdersView.vue') },
  { path: '/:rest(.*)*', name: 'not-found', component: () => import('./views/NotFoundView.vue') },
]

export const router = createRouter({
  history: createWebHistory(),
  routes,
  scrollBehavior: (to, from, saved) => saved ?? (to.path === from.path ? undefined : { top: 0 }),
})

router.beforeEach((to, from) => {
  // a new page: what the old one was still waiting for is no longer wanted
  if (to.path !== from.path) api.newScope()
})

/** `?next=` accepted only as a path inside the app (never `//evil.example`). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && next.startsWith('/') && !next.startsWith('//') ? next : '/'
}
