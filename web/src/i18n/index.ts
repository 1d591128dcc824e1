import { ref } from 'vue'
import { messages, type Locale, type MessageKey } from './messages'

const STORAGE_KEY = 'cs.locale'

function initial(): Locale {
  try {
    const stored = localStorage.getItem(STORAGE_KEY)
    if (stored === 'zh' || stored === 'en') return stored
  } catch {
    /* storage blocked: the default */
  }
  return 'zh'
}

export const locale = ref<Locale>(typeof localStorage === 'undefined' ? 'zh' : initial())

export function setLocale(next: Locale): void {
  locale.value = next
  try {
    localStorage.setItem(STORAGE_KEY, next)
  } catch {
    /* not kept */
  }
  if (typeof document !== 'undefined') document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en'
}

/** The text of `key` in the current locale, `{name}` placeholders filled. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const text = messages[locale.value][key] ?? messages.zh[key] ?? key
  return text.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`))
}

export function hasKey(key: string): key is MessageKey {
  return key in messages.zh
}

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleString(locale.value === 'zh' ? 'zh-CN' : 'en-GB', {
    hour12: false, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
    minute: '2-digit',
  })
}
