// A private Tollgate for one test file: the Stripe emulator and `tollgate serve` on free ports,
// a fresh SQLite database, the demo catalog, webhooks registered, tokens on demand. Nothing is
// shared with another run; stop() ends both processes and removes the files.
//
// TOLLGATE_BIN: the gateway binary (default $CARGO_TARGET_DIR/debug/tollgate).
// TOLLGATE_WEB_FRONT=vite: put `vite preview` in front of the gateway (the SPA and settings
// from Vite, the API forwarded), for a gateway that does not serve the SPA itself yet.
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const WEB = resolve(import.meta.dirname, '..');
export const ROOT = resolve(WEB, '..');

export function gatewayBinary() {
  if (process.env.TOLLGATE_BIN) return process.env.TOLLGATE_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(process.env.HOME ?? '/root', '.cache/tollgate-target');
  return join(target, 'debug/tollgate');
}

async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/** Spawns a child that dies with the test process; collects its output for failure reports. */
function start(cmd, args, options) {
  const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  child.output = '';
  const keep = (chunk) => {
    child.output = (child.output + chunk).slice(-20000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return child;
}

function waitFor(child, pattern, ms, what) {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${what} did not start in ${ms} ms:\n${child.output}`)), ms);
    const check = () => {
      const m = pattern.exec(child.output);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        ok(m);
      }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${what} exited (${code}) before it was ready:\n${child.output}`));
    });
    check();
  });
}

async function until(what, ms, probe) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready in ${ms} ms${last ? `: ${last.message}` : ''}`);
}

/**
 * `graphiqlUser`: mint a token for this user id and hand it to GraphiQL as its default
 * Authorization header (GRAPHIQL_DEFAULT_TOKEN, as scripts/dev does).
 */
export async function startTollgate({ extraEnv = {}, graphiqlUser = null } = {}) {
  const bin = gatewayBinary();
  const dir = await mkdtemp(join(tmpdir(), 'tollgate-web-'));
  const children = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    for (const child of children.reverse()) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => { child.kill('SIGKILL'); r(); }, 3000);
          child.once('exit', () => { clearTimeout(t); r(); });
        });
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const emulator = start(join(ROOT, '.venv/bin/python'),
      [join(ROOT, 'scripts/stripe-emulator/launcher.py'), '--port', '0', '--quiet'], { cwd: ROOT });
    children.push(emulator);
    const [, emulatorPort] = await waitFor(emulator, /LISTENING (\d+)/, 20000, 'the Stripe emulator');
    const stripeBase = `http://127.0.0.1:${emulatorPort}`;

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      BIND_ADDR: `127.0.0.1:${port}`,
      DATABASE_URL: `sqlite://${join(dir, 'tollgate.db')}?mode=rwc`,
      STRIPE_SECRET_KEY: 'sk_test_tollgate_web',
      STRIPE_PUBLISHABLE_KEY: 'pk_test_tollgate_web',
      STRIPE_API_BASE: `${stripeBase}/`,
      STRIPE_JS_URL: `${stripeBase}/js.stripe.com/v3/`,
      STRIPE_WEBHOOK_SECRETS: `whsec_${randomBytes(16).toString('hex')}`,
      JWT_SECRET: randomBytes(32).toString('hex'),
      WEB_DIR: join(WEB, 'dist'),
      // The protocol tests wait for the graphql-ws init timeout; keep it short.
      GRAPHQL_WS_INIT_TIMEOUT_MS: '500',
      // The tests make many requests from one address in a few seconds.
      RATE_LIMITS: 'false',
      LOG_FORMAT: 'json',
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      // Errors are logged with their cause chain; backtraces would bury them.
      RUST_BACKTRACE: '0',
      ...extraEnv,
    };
    delete env.NO_COLOR;
    const token = async (sub, { admin = false, email = `${sub}@example.com` } = {}) => {
      const args = ['token', '--sub', sub, ...(admin ? ['--admin'] : ['--email', email])];
      const { stdout } = await run(bin, args, { env, cwd: dir });
      return stdout.trim();
    };

    await run(bin, ['demo'], { env, cwd: dir, timeout: 60000 });
    // The emulator posts its events to our webhook route (an emulator-only endpoint).
    const hook = await fetch(`${stripeBase}/_config/webhooks/tollgate`, {
      method: 'POST',
      body: new URLSearchParams({ url: `${url}/webhooks/stripe`, secret: env.STRIPE_WEBHOOK_SECRETS }),
    });
    if (!hook.ok) throw new Error(`webhook registration: HTTP ${hook.status}`);

    if (graphiqlUser) env.GRAPHIQL_DEFAULT_TOKEN = await token(graphiqlUser);
    const gateway = start(bin, ['serve'], { env, cwd: dir });
    children.push(gateway);
    gateway.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`tollgate serve exited (${code ?? signal}):\n${gateway.output}`);
      }
    });
    await until('tollgate serve', 30000, async () =>
      (await fetch(`${url}/graphql?query=%7B__typename%7D`, { headers: { Accept: 'application/json' } })).ok);

    let webUrl = url;
    if (process.env.TOLLGATE_WEB_FRONT === 'vite') {
      const front = await freePort();
      const vite = start(join(WEB, 'node_modules/.bin/vite'), ['preview', '--port', String(front), '--host', '127.0.0.1'], {
        cwd: WEB,
        env: { ...env, TOLLGATE_URL: url },
      });
      children.push(vite);
      webUrl = `http://127.0.0.1:${front}`;
      await until('vite preview', 20000, async () => (await fetch(`${webUrl}/settings.json`)).ok);
    }

    const gql = async (bearer, query, variables = {}) => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/graphql-response+json, application/json',
          ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      return response.json();
    };

    /** The id of a product's price: the first one in `currency`, one-time or recurring. */
    const priceId = async (productName, currency, { recurring = false } = {}) => {
      const r = await gql(null, '{ products { name prices { id currency recurring { interval } } } }');
      const price = r.data.products.find((p) => p.name === productName)
        ?.prices.find((p) => p.currency === currency && Boolean(p.recurring) === recurring);
      if (!price) throw new Error(`no ${currency} price for ${productName}`);
      return price.id;
    };

    /** A payment made over HTTP (confirmed at once with `paymentMethodId`); the GraphQL answer. */
    const pay = (bearer, input) =>
      gql(bearer, `mutation($input: CreatePaymentIntentInput!) {
        createPaymentIntent(input: $input) { payment { id status } } }`, { input });

    return {
      url,
      webUrl,
      wsUrl: `ws://127.0.0.1:${port}/graphql/ws`,
      stripeBase,
      env,
      token,
      gql,
      priceId,
      pay,
      stop,
      logs: () => gateway.output,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Polls `probe` until it returns a truthy value (then returns it) or `ms` pass. */
export async function eventually(what, probe, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}
