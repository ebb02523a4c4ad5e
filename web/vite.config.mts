import { defineConfig } from 'vite';

/**
 * The dashboard bundle: built into dist/web (after `nest build`, which empties dist/) and served by DLS itself at `/`.
 * `npm run dev:web` proxies the API to a DLS on :3000 for working on the UI.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
    reportCompressedSize: true,
    rolldownOptions: {
      // Mantine marks its modules 'use client' (for React Server Components); meaningless in a client-only bundle.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:3000', '/docs-json': 'http://127.0.0.1:3000' },
  },
});
