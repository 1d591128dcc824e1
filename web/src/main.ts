import { createApp } from 'vue'
import App from './App.vue'
import { setLocale, locale } from './i18n'
import { router } from './router'
import './styles.css'

setLocale(locale.value)
createApp(App).use(router).mount('#app')
