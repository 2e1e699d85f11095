// Runtime settings from the gateway (GET /settings.json), so one build serves any deployment:
// the publishable key and the Stripe.js URL differ between production, the demo and the tests.

export interface Settings {
  /** Null when the gateway has no STRIPE_PUBLISHABLE_KEY: browsing works, paying does not. */
  stripePublishableKey: string | null;
  /** Stripe's own in production; the emulator's /js.stripe.com/v3/ in the demo and tests. */
  stripeJsUrl: string;
  graphqlPath: string;
  graphqlWsPath: string;
  /** JSON text of default request headers for GraphiQL (the demo pre-fills a token). */
  graphiqlHeaders: string | null;
}

let loading: Promise<Settings> | null = null;

export function loadSettings(): Promise<Settings> {
  loading ??= fetchSettings();
  return loading;
}

async function fetchSettings(): Promise<Settings> {
  const response = await fetch('/settings.json', { headers: { Accept: 'application/json' } });
  if (!response.ok) {
    throw new Error(`The gateway's settings could not be loaded (HTTP ${response.status}).`);
  }
  const raw: unknown = await response.json();
  return parseSettings(raw);
}

function parseSettings(raw: unknown): Settings {
  if (typeof raw !== 'object' || raw === null) throw new Error('settings.json is not an object');
  const r = raw as Record<string, unknown>;
  const text = (key: string, fallback?: string): string => {
    const v = r[key] ?? fallback;
    if (typeof v !== 'string' || v === '') throw new Error(`settings.json: ${key} is missing`);
    return v;
  };
  const optional = (key: string): string | null => {
    const v = r[key];
    return typeof v === 'string' && v !== '' ? v : null;
  };
  return {
    stripePublishableKey: optional('stripePublishableKey'),
    stripeJsUrl: text('stripeJsUrl'),
    graphqlPath: text('graphqlPath', '/graphql'),
    graphqlWsPath: text('graphqlWsPath', '/graphql/ws'),
    graphiqlHeaders: optional('graphiqlHeaders'),
  };
}

/** ws(s)://<this host><path>: the WebSocket URL on the page's own origin. */
export function webSocketUrl(path: string): string {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}
