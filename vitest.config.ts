import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // The widget imports the socket.io client from beside itself, where the server serves it (static-pages.ts): in
    // tests of the widget's modules it is the package's own copy (which those tests replace with a fake).
    alias: [{ find: /^\.\/socket\.io\.esm\.min\.js$/, replacement: fileURLToPath(new URL('./node_modules/socket.io-client/dist/socket.io.esm.min.js', import.meta.url)) }],
  },
  test: {
    include: ['tests/**/*.test.ts'],
    // Training the default pack takes a few seconds on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
