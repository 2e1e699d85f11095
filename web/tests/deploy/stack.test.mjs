// The compose stack as its users meet it: scripts/test-deploy brings compose.yaml up (demo and
// monitoring profiles, two gateway replicas behind `entry`) with an OTLP receiver beside it,
// then runs this file against the published ports. Nothing here is mocked: the requests go
// through nginx to the replicas, PostgreSQL, the emulator's container and back.
//
// Environment (set by scripts/test-deploy):
//   ENTRY_URL, GATEWAY_1_URL, GATEWAY_2_URL  http://127.0.0.1:<port>
//   EMULATOR_URL, PROMETHEUS_URL, OTLP_URL   the same, for those services
//   JWT_SECRET, STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRETS   the stack's .env
//   COMPOSE                                   the compose command line, JSON array
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run scripts/test-deploy)`);
  return value;
};
const ENTRY = env('ENTRY_URL');
const GATEWAY_1 = env('GATEWAY_1_URL');
const GATEWAY_2 = env('GATEWAY_2_URL');
const EMULATOR = env('EMULATOR_URL');
const PROMETHEUS = env('PROMETHEUS_URL');
const OTLP = env('OTLP_URL');
const COMPOSE = JSON.parse(env('COMPOSE'));
const RUN = Date.now().toString(36);

/** An HS256 token as the SPA's identity provider would mint it. */
function token(sub, { admin = false } = {}) {
  const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const body = b64({ sub, email: `${sub}@example.com`, roles: admin ? ['admin'] : [], iat: now, exp: now + 3600 });
  const sig = createHmac('sha256', env('JWT_SECRET')).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

async function graphql(base, query, variables, bearer) {
  const res = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { status: res.status, text };
  }
  return { status: res.status, body };
}

const PAY = `mutation Pay($input: CreatePaymentIntentInput!) {
  createPaymentIntent(input: $input) { payment { id status stripePaymentIntentId } } }`;

async function eventually(what, within, check) {
  const deadline = Date.now() + within;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${within} ms${last ? ` (${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function emulator(method, path, form) {
  const res = await fetch(`${EMULATOR}${path}`, {
    method,
    headers: { authorization: `Bearer ${env('STRIPE_SECRET_KEY')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: form ? new URLSearchParams(form).toString() : undefined,
  });
  assert.ok(res.ok, `${method} ${path}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

/** Every PaymentIntent the emulator holds (Stripe's list, paged). */
async function emulatorPaymentIntents() {
  const all = [];
  let after;
  for (;;) {
    const page = await emulator('GET', `/v1/payment_intents?limit=100${after ? `&starting_after=${after}` : ''}`);
    all.push(...page.data);
    if (!page.has_more || page.data.length === 0) return all;
    after = page.data[page.data.length - 1].id;
  }
}

function compose(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(COMPOSE[0], [...COMPOSE.slice(1), ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`compose ${args.join(' ')} exited ${code}`))));
  });
}

describe('the compose stack', () => {
  test('the entry point is ready and the demo catalog is seeded', async () => {
    const ready = await fetch(`${ENTRY}/readyz`);
    assert.equal(ready.status, 200);
    const { body } = await graphql(ENTRY, '{ products { name prices { id } } }');
    assert.ok(body.data.products.length > 0, JSON.stringify(body));
    const metrics = await fetch(`${ENTRY}/metrics`);
    assert.equal(metrics.status, 404, 'metrics stay on the stack network');
  });

  test('a payment with pm_card_visa succeeds through the entry point, traced with its Stripe and database spans', async () => {
    const buyer = token(`buyer-${RUN}`);
    const { body } = await graphql(ENTRY, PAY, {
      input: { amount: '12.34', currency: 'usd', paymentMethodId: 'pm_card_visa', idempotencyKey: randomUUID() },
    }, buyer);
    assert.equal(body.data?.createPaymentIntent?.payment?.status, 'SUCCEEDED', JSON.stringify(body));

    const trace = await eventually('a trace for the payment', 20000, async () => {
      const spans = await (await fetch(`${OTLP}/spans`)).json();
      const root = spans.find((s) => s.name === 'mutation Pay' && !s.parentSpanId);
      if (!root) return undefined;
      const mine = spans.filter((s) => s.traceId === root.traceId);
      const stripe = mine.filter((s) => s.name.startsWith('stripe POST /payment_intents'));
      const db = mine.filter((s) => s.attributes['db.system.name'] === 'postgresql');
      return stripe.length > 0 && db.length > 0 ? { root, stripe, db, mine } : undefined;
    });
    assert.equal(trace.root.service, 'tollgate');
    assert.equal(trace.root.attributes['http.route'], '/graphql');
    for (const span of [...trace.stripe, ...trace.db]) {
      assert.equal(span.traceId, trace.root.traceId, span.name);
    }
    assert.ok(!trace.mine.some((s) => /^field |resolve/.test(s.name)), 'no per-field spans');
  });

  test("a webhook delivered to one replica is applied once and its live update reaches a subscriber on the other", async () => {
    const sub = `live-${RUN}`;
    const user = token(sub);
    // Pending: no payment method yet, so Stripe (the emulator) is confirmed behind the
    // gateway's back and only the webhook can tell Tollgate.
    const created = await graphql(GATEWAY_1, PAY, {
      input: { amount: '5.55', currency: 'usd', idempotencyKey: randomUUID() },
    }, user);
    const payment = created.body.data?.createPaymentIntent?.payment;
    assert.ok(payment?.id, JSON.stringify(created.body));
    assert.notEqual(payment.status, 'SUCCEEDED');

    // Every event so far delivered and applied, so the one update counted below is the
    // confirmation's (a late `payment_intent.created` would publish this payment too, and a
    // live update always shows the row as it is now).
    const admin = token(`admin-${RUN}`, { admin: true });
    await eventually('the webhook queue drained', 20000, async () => {
      const { deliveries } = await (await fetch(`${EMULATOR}/_config/deliveries`)).json();
      const pending = await graphql(GATEWAY_2, '{ webhookEvents(status: PENDING) { edges { node { id } } } }', {}, admin);
      return deliveries.every((d) => d.delivered) && pending.body.data.webhookEvents.edges.length === 0;
    });

    const updates = [];
    const client = createClient({
      url: `${GATEWAY_2.replace(/^http/, 'ws')}/graphql/ws`,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${user}` },
      retryAttempts: 0,
    });
    let acked;
    const ready = new Promise((resolve) => { acked = resolve; });
    client.on('connected', () => acked());
    const unsubscribe = client.subscribe(
      { query: 'subscription { paymentUpdated { id status } }' },
      { next: (msg) => updates.push(msg), error: (err) => updates.push({ error: String(err?.message ?? err) }), complete: () => {} },
    );
    const succeededDeliveries = async () =>
      (await (await fetch(`${EMULATOR}/_config/deliveries`)).json()).deliveries.filter((d) => d.type === 'payment_intent.succeeded');
    const before = new Set((await succeededDeliveries()).map((d) => d.event));
    try {
      await ready;
      // The server registers the subscription as it answers `subscribe`; give it a moment.
      await new Promise((r) => setTimeout(r, 500));
      await emulator('POST', `/v1/payment_intents/${payment.stripePaymentIntentId}/confirm`, { payment_method: 'pm_card_visa' });

      await eventually('the SUCCEEDED update on gateway-2', 20000, () =>
        updates.some((u) => u.data?.paymentUpdated?.id === payment.id && u.data.paymentUpdated.status === 'SUCCEEDED'));
      // Anything arriving late would be a second delivery of the same change.
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(!updates.some((u) => u.error), JSON.stringify(updates));
      const succeeded = updates.filter((u) => u.data?.paymentUpdated?.status === 'SUCCEEDED');
      assert.equal(succeeded.length, 1, JSON.stringify(updates));
      assert.ok(updates.every((u) => u.data.paymentUpdated.id === payment.id), 'only my payment');
    } finally {
      unsubscribe();
      await client.dispose();
    }

    // The emulator delivered the event once, to gateway-1 (the test stack's endpoint) ...
    const fresh = (await succeededDeliveries()).filter((d) => !before.has(d.event));
    assert.equal(fresh.length, 1, JSON.stringify(fresh));
    assert.equal(fresh[0].endpoint, 'http://gateway-1:8080/webhooks/stripe');
    assert.equal(fresh[0].delivered, true);
    // ... and the gateways stored it once and applied it once.
    const events = await graphql(GATEWAY_2, `{ webhookEvents(type: "payment_intent.succeeded", first: 100) {
      edges { node { stripeEventId status attempts } } } }`, {}, admin);
    const mine = events.body.data.webhookEvents.edges.map((e) => e.node).filter((n) => n.stripeEventId === fresh[0].event);
    assert.equal(mine.length, 1, JSON.stringify(events.body));
    assert.equal(mine[0].status, 'PROCESSED');
    assert.equal(mine[0].attempts, 1);
  });

  test('restarting one replica mid-load loses nothing and charges nothing twice', async () => {
    // A shopper per five payments: the per-user mutation limit (30 a minute) stays out of it.
    const buyers = [];
    const buyerFor = (n) => (buyers[Math.floor(n / 5)] ??= token(`load-${RUN}-${Math.floor(n / 5)}`));
    const atLeast = 24;
    let retried = 0;
    let duringRestart = 0;
    let restarting = false;
    let restart;
    // A client as the SPA is one: on a failed request it sends the same request again with
    // the same idempotency key, until it has an answer.
    async function payOnce(key, buyer) {
      for (let attempt = 0; ; attempt++) {
        try {
          const { status, body } = await graphql(ENTRY, PAY, {
            input: { amount: '7.77', currency: 'usd', paymentMethodId: 'pm_card_visa', idempotencyKey: key },
          }, buyer);
          const payment = body.data?.createPaymentIntent?.payment;
          if (status === 200 && payment) return payment;
          const code = body.errors?.[0]?.extensions?.code;
          if (![502, 503, 504].includes(status) && !['STRIPE_UNAVAILABLE', 'INTERNAL'].includes(code)) {
            throw new Error(`payment refused: ${status} ${JSON.stringify(body)}`);
          }
        } catch (err) {
          if (String(err.message).startsWith('payment refused') || attempt > 120) throw err;
        }
        retried++;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    // Four shoppers pay one after another; once four payments are in, gateway-1 is restarted
    // (SIGTERM, drain, start), and they go on paying until it is back and 24 are made.
    const results = [];
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (restarting || results.length < atLeast || !restart) {
        const payment = await payOnce(randomUUID(), buyerFor(results.length));
        results.push(payment);
        await new Promise((r) => setTimeout(r, 50));
        if (restarting) duringRestart++;
        if (results.length === 4 && !restart) {
          restarting = true;
          restart = compose('restart', '-t', '10', 'gateway-1').finally(() => { restarting = false; });
        }
        if (results.length > 2000) throw new Error('the restart never finished');
      }
    }));
    await restart;
    const total = results.length;
    assert.ok(duringRestart > 0, 'payments were made while gateway-1 restarted');
    assert.equal(results.length, total);
    assert.ok(results.every((p) => p.status === 'SUCCEEDED'), JSON.stringify(results));
    assert.equal(new Set(results.map((p) => p.id)).size, total, 'one payment per key');

    let inHistories = 0;
    for (const buyer of buyers) {
      const history = await graphql(ENTRY, '{ payments(first: 1) { totalCount } }', {}, buyer);
      inHistories += history.body.data.payments.totalCount;
    }
    assert.equal(inHistories, total, 'every payment in its shopper\'s history, once');
    // Only this test pays 7.77: every such PaymentIntent at "Stripe" is one of the payments
    // above, so nothing was charged twice and none was lost between the replicas.
    const intents = new Set(results.map((p) => p.stripePaymentIntentId));
    const atStripe = (await emulatorPaymentIntents()).filter((pi) => pi.amount === 777);
    assert.equal(atStripe.length, total, `${atStripe.length} PaymentIntents at Stripe for ${total} payments (${retried} retries)`);
    assert.ok(atStripe.every((pi) => intents.has(pi.id) && pi.status === 'succeeded'));
    console.log(`# ${total} payments, ${duringRestart} of them while gateway-1 restarted, ${retried} requests sent again`);
    // gateway-1 serving again is the next test's `up == 1` (its published port changed).
  });

  test("Prometheus scrapes both replicas and has the alert rules loaded", async () => {
    const up = await eventually('up == 1 for both replicas', 90000, async () => {
      const res = await (await fetch(`${PROMETHEUS}/api/v1/query?query=${encodeURIComponent('up{job="tollgate"}')}`)).json();
      const series = res.data?.result ?? [];
      const good = series.filter((s) => s.value[1] === '1').map((s) => s.metric.instance).sort();
      return good.length === 2 ? good : undefined;
    });
    assert.deepEqual(up, ['gateway-1:9090', 'gateway-2:9090']);
    const rules = await (await fetch(`${PROMETHEUS}/api/v1/rules`)).json();
    const names = rules.data.groups.flatMap((g) => g.rules.map((r) => r.name));
    for (const alert of ['TollgateWebhookQueueGrowing', 'TollgateWebhookEventsParked', 'TollgateStripeErrorRate', 'TollgateDbPoolExhausted', 'TollgateSyncDrift']) {
      assert.ok(names.includes(alert), `${alert} in ${names}`);
    }
    assert.ok(rules.data.groups.flatMap((g) => g.rules).every((r) => r.health === 'ok'), JSON.stringify(rules.data));
  });

  test('a webhook is one trace from receipt through apply to the live publish', async () => {
    const spans = await eventually('webhook spans', 20000, async () => {
      const all = await (await fetch(`${OTLP}/spans`)).json();
      const receive = all.filter((s) => s.name === 'webhook receive');
      for (const r of receive) {
        const trace = all.filter((s) => s.traceId === r.traceId);
        const apply = trace.find((s) => s.name.startsWith('webhook apply '));
        const publish = trace.find((s) => s.name === 'live publish');
        if (apply && publish) return { r, apply, publish, all };
      }
      return undefined;
    });
    assert.ok(spans.apply.attributes['stripe.event_id']?.startsWith('evt_'), JSON.stringify(spans.apply.attributes));
    assert.ok(spans.apply.links.length > 0, "the worker's batch is linked");
  });
});
