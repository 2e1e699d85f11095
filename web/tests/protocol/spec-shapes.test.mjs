// Responses by the GraphQL spec's rules, checked by graphql-js over a few hundred generated
// documents: every document is built from schema.graphql (random fields, arguments, aliases,
// fragments, inline fragments, @skip/@include), validated by graphql-js, sent as several kinds
// of viewer (anonymous, a user, another user, an admin) over HTTP (twice: the second time
// the history query may run as a compiled plan) and over graphql-ws, and each answer is held
// against the document and the schema as graphql-js reads them:
// - a request error has `errors` and no `data`;
// - every object has exactly the response keys its selection collects (CollectFields, with
//   @skip/@include and type conditions), in that order (§7.1.1);
// - `null` appears only where the type is nullable (a failing non-null field propagates to
//   the nearest nullable parent, §6.4.4), lists are arrays, leaves have their scalar's type;
// - every error's `path` ends at a `null` (the field itself, or a parent it propagated to).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  buildSchema, GraphQLNonNull, getNamedType, isAbstractType, isCompositeType, isEnumType, isInputObjectType,
  isListType, isNonNullType, isObjectType, parse, validate, Kind,
} from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ROOT, startTollgate } from '../harness.mjs';

const schema = buildSchema(readFileSync(`${ROOT}/schema.graphql`, 'utf8'));
const DOCUMENTS = 300;
const OVER_WEBSOCKET = 60;

let app;
let viewers;
let ids;

before(async () => {
  app = await startTollgate();
  const alice = await app.token('spec-alice');
  viewers = [null, alice, await app.token('spec-bob'), await app.token('spec-admin', { admin: true })];
  const paid = [];
  for (const amount of ['1.00', '2.50', '9.99']) {
    const r = await app.pay(alice, { amount, currency: 'usd', paymentMethodId: 'pm_card_visa' });
    paid.push(r.data.createPaymentIntent.payment.id);
  }
  await app.gql(viewers[3], `mutation($input: RefundPaymentInput!) { refundPayment(input: $input) { id } }`,
    { input: { paymentId: paid[0], amount: '0.50' } });
  const products = await app.gql(null, '{ products { id prices { id } } }');
  ids = [
    ...paid,
    ...products.data.products.flatMap((p) => [p.id, ...p.prices.map((x) => x.id)]),
    '00000000-0000-4000-8000-000000000000',
    'nope',
  ];
});

after(async () => {
  await app?.stop();
});

// ---- generating documents ----

/** A small seeded PRNG (mulberry32), so a failure can be replayed by its seed. */
function random(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    chance: (p) => next() < p,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

/** A literal for an argument of `type`, or undefined when none can be made up. */
function literal(type, rnd) {
  const named = getNamedType(type);
  if (isListType(isNonNullType(type) ? type.ofType : type)) {
    const item = literal((isNonNullType(type) ? type.ofType : type).ofType, rnd);
    return item === undefined ? undefined : `[${item}]`;
  }
  if (isEnumType(named)) return rnd.pick(named.getValues()).name;
  if (isInputObjectType(named)) return undefined;
  switch (named.name) {
    case 'ID': return JSON.stringify(rnd.pick(ids));
    case 'Int': return String(rnd.int(0, 5));
    case 'Boolean': return String(rnd.chance(0.5));
    case 'DateTime': return JSON.stringify(rnd.pick(['2020-01-01T00:00:00Z', '2099-01-01T00:00:00Z']));
    case 'String': return JSON.stringify(rnd.pick(['usd', 'spec-alice', 'x', 'payment_intent.succeeded']));
    default: return undefined;
  }
}

function argumentsFor(field, rnd) {
  const parts = [];
  for (const arg of field.args) {
    const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
    if (!required && !rnd.chance(0.3)) continue;
    const value = literal(arg.type, rnd);
    if (value === undefined) {
      if (required) return null; // cannot call it
      continue;
    }
    parts.push(`${arg.name}: ${value}`);
  }
  return parts.length ? `(${parts.join(', ')})` : '';
}

function directive(rnd) {
  if (!rnd.chance(0.08)) return '';
  return rnd.pick([' @skip(if: true)', ' @skip(if: false)', ' @include(if: true)', ' @include(if: false)']);
}

/** A selection set on `type`, `depth` levels at most; `fragments` collects named fragments. */
function selection(type, depth, rnd, fragments) {
  const items = [];
  if (isAbstractType(type)) {
    items.push('__typename');
    for (const object of schema.getPossibleTypes(type)) {
      if (rnd.chance(0.5)) items.push(`... on ${object.name} ${selection(object, depth, rnd, fragments)}`);
    }
    const common = Object.values(type.getFields());
    items.push(rnd.pick(common).name);
    return `{ ${items.join(' ')} }`;
  }
  const fields = Object.values(type.getFields()).filter((f) => !f.name.startsWith('__'));
  const used = new Map();
  const wanted = rnd.int(1, Math.min(4, fields.length));
  for (let i = 0; i < wanted * 2 && items.length < wanted; i += 1) {
    const field = rnd.pick(fields);
    const named = getNamedType(field.type);
    if (isCompositeType(named) && depth <= 0) continue;
    const args = argumentsFor(field, rnd);
    if (args === null) continue;
    const n = used.get(field.name) ?? 0;
    used.set(field.name, n + 1);
    const alias = n > 0 || rnd.chance(0.15) ? `${field.name}_${n}: ` : '';
    const sub = isCompositeType(named) ? ` ${selection(named, depth - 1, rnd, fragments)}` : '';
    items.push(`${alias}${field.name}${args}${directive(rnd)}${sub}`);
  }
  if (rnd.chance(0.1)) items.push(`... on ${type.name} { __typename }`);
  if (rnd.chance(0.1) && depth > 0) {
    const name = `F${fragments.length}`;
    fragments.push(`fragment ${name} on ${type.name} ${selection(type, depth - 1, rnd, fragments)}`);
    items.push(`...${name}`);
  }
  if (!items.length) items.push('__typename');
  return `{ ${items.join(' ')} }`;
}

/** Valid query documents, generated from `seed` on. */
function documents(count, seed) {
  const out = [];
  for (let s = seed; out.length < count; s += 1) {
    const rnd = random(s);
    const fragments = [];
    const body = selection(schema.getQueryType(), rnd.int(1, 4), rnd, fragments);
    const text = [`query Q${s} ${body}`, ...fragments].join('\n');
    const doc = parse(text);
    if (validate(schema, doc).length === 0) out.push({ seed: s, text, doc });
  }
  return out;
}

// ---- checking answers ----

function included(node) {
  for (const d of node.directives ?? []) {
    const arg = d.arguments.find((a) => a.name.value === 'if');
    const value = arg?.value.kind === Kind.BOOLEAN ? arg.value.value : undefined;
    if (d.name.value === 'skip' && value === true) return false;
    if (d.name.value === 'include' && value === false) return false;
  }
  return true;
}

function applies(condition, object) {
  if (!condition) return true;
  const type = schema.getType(condition.name.value);
  return type === object || (isAbstractType(type) && schema.isSubType(type, object));
}

/** The spec's CollectFields: response key -> the field nodes merged under it, in order. */
function collect(object, sets, fragments, out = new Map(), visited = new Set()) {
  for (const set of sets) {
    for (const node of set.selections) {
      if (!included(node)) continue;
      if (node.kind === Kind.FIELD) {
        const key = node.alias?.value ?? node.name.value;
        if (!out.has(key)) out.set(key, []);
        out.get(key).push(node);
      } else if (node.kind === Kind.INLINE_FRAGMENT) {
        if (applies(node.typeCondition, object)) collect(object, [node.selectionSet], fragments, out, visited);
      } else if (!visited.has(node.name.value)) {
        visited.add(node.name.value);
        const fragment = fragments.get(node.name.value);
        if (applies(fragment.typeCondition, object)) collect(object, [fragment.selectionSet], fragments, out, visited);
      }
    }
  }
  return out;
}

function checkValue(type, value, nodes, path, ctx) {
  if (isNonNullType(type)) {
    if (value === null || value === undefined) {
      ctx.problems.push(`null at non-null ${path.join('.')}`);
      return;
    }
    return checkValue(type.ofType, value, nodes, path, ctx);
  }
  if (value === null) return;
  if (value === undefined) {
    ctx.problems.push(`missing ${path.join('.')}`);
    return;
  }
  if (isListType(type)) {
    if (!Array.isArray(value)) ctx.problems.push(`not a list at ${path.join('.')}`);
    else value.forEach((item, i) => checkValue(type.ofType, item, nodes, [...path, i], ctx));
    return;
  }
  if (isCompositeType(type)) {
    if (typeof value !== 'object' || Array.isArray(value)) {
      ctx.problems.push(`not an object at ${path.join('.')}`);
      return;
    }
    const runtime = isAbstractType(type) ? schema.getType(value.__typename) : type;
    if (!isObjectType(runtime)) {
      ctx.problems.push(`no runtime type at ${path.join('.')}`);
      return;
    }
    checkObject(runtime, nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : [])), value, path, ctx);
    return;
  }
  const kind = isEnumType(type) ? 'enum' : type.name;
  const ok = {
    Int: Number.isInteger(value), Float: typeof value === 'number', Boolean: typeof value === 'boolean',
    enum: typeof value === 'string' && type.getValue?.(value) !== undefined,
    JSON: true,
  }[kind] ?? typeof value === 'string';
  if (!ok) ctx.problems.push(`${JSON.stringify(value)} is not a ${kind} at ${path.join('.')}`);
}

function checkObject(object, sets, value, path, ctx) {
  const fields = collect(object, sets, ctx.fragments);
  const expected = [...fields.keys()];
  const actual = Object.keys(value);
  if (expected.join(',') !== actual.join(',')) {
    ctx.problems.push(`keys at ${path.join('.') || 'data'}: expected [${expected}] got [${actual}]`);
  }
  for (const [key, nodes] of fields) {
    const name = nodes[0].name.value;
    const type = name === '__typename' ? new GraphQLNonNull(schema.getType('String')) : object.getFields()[name]?.type;
    if (!type) continue;
    checkValue(type, value[key], nodes, [...path, key], ctx);
  }
}

/** The problems of one answer to `doc`; none when it follows the rules. */
function problemsOf(doc, result) {
  const ctx = {
    problems: [],
    fragments: new Map(doc.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d])),
  };
  const errors = result.errors ?? [];
  for (const e of errors) {
    if (typeof e.message !== 'string') ctx.problems.push(`an error without a message: ${JSON.stringify(e)}`);
    if (e.path !== undefined && !Array.isArray(e.path)) ctx.problems.push(`a path that is not a list: ${JSON.stringify(e)}`);
  }
  if (!('data' in result)) {
    if (!errors.length) ctx.problems.push('neither data nor errors');
    if (errors.some((e) => e.path)) ctx.problems.push('a request error with a path');
    return ctx.problems;
  }
  if (result.data === null) {
    if (!errors.length) ctx.problems.push('data is null without an error');
  } else {
    const operation = doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
    checkObject(schema.getQueryType(), [operation.selectionSet], result.data, [], ctx);
  }
  // Every error's path ends at a null, on the way down from data.
  for (const e of errors.filter((x) => x.path)) {
    let at = result.data;
    for (const segment of e.path) {
      if (at === null || at === undefined) break;
      at = at[segment];
    }
    if (at !== null && at !== undefined) ctx.problems.push(`error at ${e.path.join('.')} but a value is there`);
  }
  return ctx.problems;
}

async function over_http(bearer, text) {
  const response = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
    },
    body: JSON.stringify({ query: text }),
  });
  return response.json();
}

test(`${DOCUMENTS} generated documents are answered by the spec over HTTP`, async () => {
  const failures = [];
  let fieldErrors = 0;
  let nulled = 0;
  for (const { seed, text, doc } of documents(DOCUMENTS, 1)) {
    const bearer = viewers[seed % viewers.length];
    for (const round of [1, 2]) {
      const result = await over_http(bearer, text);
      const problems = problemsOf(doc, result);
      if (problems.length) failures.push({ seed, round, viewer: seed % viewers.length, text, problems, result });
      if (round === 1 && result.errors?.some((e) => e.path)) fieldErrors += 1;
      if (round === 1 && result.data === null) nulled += 1;
    }
  }
  // The documents reach the interesting cases: field errors, and data nulled by a root.
  assert.ok(fieldErrors > 20, `only ${fieldErrors} documents had field errors`);
  assert.ok(nulled > 5, `only ${nulled} answers had data: null`);
  assert.deepEqual(
    failures.slice(0, 3).map((f) => ({ ...f, result: JSON.stringify(f.result).slice(0, 500) })),
    [],
    `${failures.length} answers break the rules`,
  );
});

test(`${OVER_WEBSOCKET} generated documents are answered by the spec over graphql-ws`, async () => {
  const failures = [];
  for (const bearer of viewers.filter(Boolean)) {
    const client = createClient({
      url: app.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${bearer}` },
      retryAttempts: 0,
    });
    try {
      for (const { seed, text, doc } of documents(OVER_WEBSOCKET / 3, 10_000 + viewers.indexOf(bearer) * 1000)) {
        const result = await new Promise((resolve) => {
          let last = null;
          client.subscribe({ query: text }, {
            next: (value) => { last = value; },
            // A request error ends the operation with `error`: its errors, no data.
            error: (errors) => resolve(Array.isArray(errors) ? { errors } : { errors: [{ message: String(errors) }] }),
            complete: () => resolve(last),
          });
        });
        const problems = problemsOf(doc, result);
        if (problems.length) failures.push({ seed, text, problems, result: JSON.stringify(result).slice(0, 500) });
      }
    } finally {
      await client.dispose();
    }
  }
  assert.deepEqual(failures.slice(0, 3), [], `${failures.length} answers break the rules`);
});
