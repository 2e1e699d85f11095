// graphql-ws (the graphql-transport-ws subprotocol) at /graphql/ws, as its own client library
// and the protocol's close codes expect:
// https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startTollgate } from '../harness.mjs';

const SUBPROTOCOL = 'graphql-transport-ws';
// The harness starts the gateway with GRAPHQL_WS_INIT_TIMEOUT_MS=500.
const INIT_TIMEOUT_MS = 500;

let app;
let token;

before(async () => {
  app = await startTollgate();
  token = await app.token('ws-user');
});

after(async () => {
  await app?.stop();
});

/** A raw socket that records messages, errors and how it closed. */
function open() {
  const socket = new WebSocket(app.wsUrl, SUBPROTOCOL);
  const seen = { messages: [], errors: [], closed: null };
  socket.on('message', (data) => seen.messages.push(JSON.parse(String(data))));
  // Registered so a protocol violation by the server (a control frame over 125 bytes, say)
  // is recorded instead of crashing this process, as it would an unguarded client.
  socket.on('error', (err) => seen.errors.push(err));
  const closed = new Promise((resolve) => {
    socket.on('close', (code, reason) => {
      seen.closed = { code, reason: reason.toString('utf8'), bytes: reason.length };
      resolve(seen.closed);
    });
  });
  const opened = new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return { socket, seen, closed, opened, send: (msg) => socket.send(typeof msg === 'string' ? msg : JSON.stringify(msg)) };
}

function within(ms, promise, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)),
  ]);
}

async function initialised() {
  const conn = open();
  await conn.opened;
  conn.send({ type: 'connection_init', payload: { Authorization: `Bearer ${token}` } });
  await within(5000, new Promise((resolve) => {
    const check = () => (conn.seen.messages.some((m) => m.type === 'connection_ack') ? resolve() : setTimeout(check, 20));
    check();
  }), 'connection_ack');
  return conn;
}

const PAYMENT_FIELDS = `id status amount { amount minorUnits currency formatted } amountRefunded { formatted }
  refunds { id status amount { formatted } } cardBrand cardLast4 updatedAt`;

describe('graphql-ws', () => {
  test('the graphql-ws client receives paymentUpdated for a payment made over HTTP', async () => {
    const client = createClient({
      url: app.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    const events = [];
    let failure = null;
    const subscribed = new Promise((resolve) => client.on('connected', resolve));
    const unsubscribe = client.subscribe(
      { query: `subscription { paymentUpdated { ${PAYMENT_FIELDS} } }` },
      { next: (e) => events.push(e), error: (e) => { failure = e; }, complete: () => {} },
    );
    try {
      await within(5000, subscribed, 'connected');
      // Give the server a moment to register the subscription before the payment.
      await new Promise((r) => setTimeout(r, 200));
      const paid = await app.pay(token, {
        priceId: await app.priceId('Sticker pack', 'usd'), paymentMethodId: 'pm_card_visa', idempotencyKey: 'ws-test-payment',
      });
      assert.equal(paid.errors, undefined, JSON.stringify(paid.errors));
      const id = paid.data.createPaymentIntent.payment.id;
      await within(10000, new Promise((resolve) => {
        const check = () => (events.some((e) => e.data?.paymentUpdated?.status === 'SUCCEEDED') ? resolve() : setTimeout(check, 50));
        check();
      }), 'paymentUpdated SUCCEEDED');
      assert.equal(failure, null);
      for (const event of events) {
        assert.equal(event.errors, undefined, `event with errors: ${JSON.stringify(event.errors)}`);
        assert.equal(event.data.paymentUpdated.id, id);
        assert.deepEqual(event.data.paymentUpdated.refunds, []);
      }
    } finally {
      unsubscribe();
      await client.dispose();
    }
  });

  test('a bad token in connection_init closes with 4403 Forbidden', async () => {
    const conn = open();
    await conn.opened;
    conn.send({ type: 'connection_init', payload: { Authorization: 'Bearer not-a-token' } });
    const closed = await within(5000, conn.closed, 'close');
    assert.equal(closed.code, 4403, `closed ${closed.code} ${closed.reason}`);
    assert.deepEqual(conn.seen.errors, []);
  });

  test('subscribe before connection_init closes with 4401 Unauthorized', async () => {
    const conn = open();
    await conn.opened;
    conn.send({ id: '1', type: 'subscribe', payload: { query: 'subscription { paymentUpdated { id } }' } });
    const closed = await within(5000, conn.closed, 'close');
    assert.equal(closed.code, 4401, `closed ${closed.code} ${closed.reason}`);
  });

  test('a second subscribe with an id in use closes with 4409', async () => {
    const conn = await initialised();
    const subscribe = { id: 'same', type: 'subscribe', payload: { query: 'subscription { paymentUpdated { id } }' } };
    conn.send(subscribe);
    conn.send(subscribe);
    const closed = await within(5000, conn.closed, 'close');
    assert.equal(closed.code, 4409, `closed ${closed.code} ${closed.reason}`);
    // PROTOCOL.md's reason names the id; the gateway may leave a client-chosen id out, since
    // a long one would not fit in a close frame.
    assert.match(closed.reason, /already exists/);
    assert.ok(closed.bytes <= 123, `close reason of ${closed.bytes} bytes`);
  });

  test('no connection_init closes with 4408 after the init timeout', async () => {
    const conn = open();
    await conn.opened;
    const started = Date.now();
    const closed = await within(INIT_TIMEOUT_MS + 4000, conn.closed, 'close');
    assert.equal(closed.code, 4408, `closed ${closed.code} ${closed.reason}`);
    assert.ok(Date.now() - started >= INIT_TIMEOUT_MS - 50, 'closed before the timeout');
  });

  test('an unknown message type closes with 4400 and a reason a control frame can carry', async () => {
    const conn = await initialised();
    conn.send({ type: 'no-such-type-'.repeat(20), id: 'x' });
    const closed = await within(5000, conn.closed, 'close');
    assert.deepEqual(conn.seen.errors.map((e) => e.message), [], 'the client saw a protocol error');
    assert.equal(closed.code, 4400, `closed ${closed.code} ${closed.reason}`);
    assert.ok(closed.bytes <= 123, `close reason of ${closed.bytes} bytes (RFC 6455 allows 123 after the code)`);
  });
});
