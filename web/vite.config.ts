import { cpSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import vue from '@vitejs/plugin-vue'
import type { Plugin } from 'vite'
import { defineConfig } from 'vitest/config'

const media = fileURLToPath(new URL('./media', import.meta.url))
const dist = fileURLToPath(new URL('./dist', import.meta.url))
// `coursestream up` on another port: GATEWAY=http://127.0.0.1:20000 npm run dev
const gateway = process.env.GATEWAY ?? 'http://127.0.0.1:8000'

/** web/media (the demo covers, avatars and banners the catalog links to as /media/...) is
 * copied into dist/media, so a gateway serving dist serves them too; web/media stays the
 * one place they are kept. */
function copyMedia(): Plugin {
  return {
    name: 'coursestream-media',
    apply: 'build',
    closeBundle() {
      if (existsSync(media)) cpSync(media, `${dist}/media`, { recursive: true })
    },
  }
}

export default defineConfig({
  plugins: [vue(), copyMedia()],
  publicDir: false,
  build: { target: 'es2022', sourcemap: false, reportCompressedSize: true },
  server: {
    proxy: { '/api': { target: gateway, changeOrigin: false }, '/media': gateway },
  },
  test: { include: ['tests/**/*.test.ts'], environment: 'node' },
})
