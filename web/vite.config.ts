import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vitest/config'

// `coursestream up` on another port: GATEWAY=http://127.0.0.1:20000 npm run dev
const gateway = process.env.GATEWAY ?? 'http://127.0.0.1:8000'

export default defineConfig({
  plugins: [vue()],
  publicDir: false,
  build: { target: 'es2022', sourcemap: false, reportCompressedSize: true },
  server: {
    proxy: { '/api': { target: gateway, changeOrigin: false }, '/media': gateway },
  },
  test: { include: ['tests/**/*.test.ts'], environment: 'node' },
})
