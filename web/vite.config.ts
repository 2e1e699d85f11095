// Two HTML entries: the SPA (index.html) and GraphiQL (graphiql.html), both built into dist/,
// which `tollgate serve` serves (WEB_DIR). In development, `npm run dev` serves the same pages
// and forwards the API to a running gateway (TOLLGATE_URL, default http://127.0.0.1:8080).
import { resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defineConfig, type Plugin, type ProxyOptions } from 'vite';

const gateway = process.env.TOLLGATE_URL ?? 'http://127.0.0.1:8080';

// The settings the gateway serves at /settings.json. A gateway older than the SPA has no such
// route; set STRIPE_JS_URL (and STRIPE_PUBLISHABLE_KEY) for the dev server to answer it instead.
function devSettings(): Plugin {
  const fromEnv = process.env.STRIPE_JS_URL
    ? {
        stripePublishableKey: process.env.STRIPE_PUBLISHABLE_KEY ?? null,
        stripeJsUrl: process.env.STRIPE_JS_URL,
        graphqlPath: '/graphql',
        graphqlWsPath: '/graphql/ws',
        graphiqlHeaders: process.env.GRAPHIQL_DEFAULT_HEADERS ?? null,
      }
    : null;
  const serve = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    if (!fromEnv || req.url !== '/settings.json') return next();
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(fromEnv));
  };
  return {
    name: 'tollgate-dev-settings',
    configureServer: (server) => void server.middlewares.use(serve),
    configurePreviewServer: (server) => void server.middlewares.use(serve),
  };
}

const proxy: Record<string, ProxyOptions> = {
  '/graphql/ws': { target: gateway, ws: true },
  '/graphql': {
    target: gateway,
    // A browser opening /graphql gets GraphiQL, as from the gateway.
    bypass: (req) =>
      req.method === 'GET' && req.headers.accept?.includes('text/html') && !req.url?.includes('query=')
        ? '/graphiql.html'
        : undefined,
  },
  '/settings.json': { target: gateway },
};

export default defineConfig({
  plugins: [devSettings()],
  server: { proxy, strictPort: true },
  preview: { proxy, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // GraphiQL is large by nature; the SPA's chunks stay far below this.
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      onwarn(warning, warn) {
        // GraphiQL's dependencies mark modules "use client" for React Server Components, which
        // mean nothing in a browser bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
      input: {
        main: resolve(import.meta.dirname, 'index.html'),
        graphiql: resolve(import.meta.dirname, 'graphiql.html'),
      },
    },
  },
});
