/** The API's phone rule (services/gateway/domain.py PHONE_PATTERN; a test compares them). */
export const PHONE_PATTERN = /^1[3-9]\d{9}$/
export const CODE_PATTERN = /^\d{6}$/

export const validPhone = (phone: string): boolean => PHONE_PATTERN.test(phone)
export const validPassword = (password: string): boolean => password.length >= 8 && password.length <= 128

const RESEND_KEY = 'cs.smsResendAt'

/** When a new code may be asked for this phone (epoch ms), kept across reloads. */
export function resendAt(phone: string, store: Pick<Storage, 'getItem'> = localStorage): number {
  try {
    const map = JSON.parse(store.getItem(RESEND_KEY) ?? '{}') as Record<string, number>
    return typeof map[phone] === 'number' ? map[phone] : 0
  } catch {
    return 0
  }
}

export function setResendAt(phone: string, at: number,
                            store: Pick<Storage, 'getItem' | 'setItem'> = localStorage): void {
  let map: Record<string, number> = {}
  try {
    map = JSON.parse(store.getItem(RESEND_KEY) ?? '{}') as Record<string, number>
  } catch {
    /* start again */
  }
  const now = Date.now()
  for (const [key, value] of Object.entries(map)) if (value < now) delete map[key]
  map[phone] = at
  try {
    store.setItem(RESEND_KEY, JSON.stringify(map))
  } catch {
    /* not kept */
  }
}

/** The phone whose countdown runs now, to fill the field after a reload. */
export function lastCountdownPhone(store: Pick<Storage, 'getItem'> = localStorage): string {
  try {
    const map = JSON.parse(store.getItem(RESEND_KEY) ?? '{}') as Record<string, number>
    const live = Object.entries(map).filter(([, at]) => at > Date.now()).sort((a, b) => b[1] - a[1])
    return live[0]?.[0] ?? ''
  } catch {
    return ''
  }
}
