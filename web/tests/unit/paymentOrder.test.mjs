// The live-update merge of the payment lists, as plain functions: the TypeScript module is
// transpiled with the project's own compiler and imported, no browser needed.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { WEB } from '../harness.mjs';

const source = readFileSync(resolve(WEB, 'src/components/paymentOrder.ts'), 'utf8');
const { outputText } = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
});
const { instantKey, mergePayment, newerOf } = await import(`data:text/javascript,${encodeURIComponent(outputText)}`);

const at = (id, createdAt, updatedAt = createdAt, status = 'SUCCEEDED') => ({ id, createdAt, updatedAt, status });

test('instants sort as instants whatever number of fraction digits the server printed', () => {
  const printed = [
    '2026-11-26T01:02:03Z',
    '2026-11-26T01:02:03.000001Z',
    '2026-11-26T01:02:03.12Z',
    '2026-11-26T01:02:03.120500+00:00',
    '2026-11-26T01:02:03.123456789Z',
    '2026-11-26T03:02:04.5+02:00', // 01:02:04.5 UTC
  ];
  const sorted = [...printed].sort((a, b) => (instantKey(a) < instantKey(b) ? -1 : 1));
  assert.deepEqual(sorted, printed);
  // Plain string order gets the first pair wrong: 'Z' sorts after '.'.
  assert.ok('2026-11-26T01:02:03Z' > '2026-11-26T01:02:03.000001Z');
});

test('a payment shown is replaced in place, unless the list already shows a newer state', () => {
  const list = [at('b', '2026-11-26T01:00:02Z'), at('a', '2026-11-26T01:00:01Z')];
  const refunded = { ...list[1], updatedAt: '2026-11-26T02:00:00.5Z', status: 'REFUNDED' };
  const merged = mergePayment(list, refunded, true);
  assert.deepEqual(merged.map((p) => [p.id, p.status]), [['b', 'SUCCEEDED'], ['a', 'REFUNDED']]);
  const stale = { ...list[1], updatedAt: '2026-11-26T02:00:00Z', status: 'PENDING' };
  assert.equal(mergePayment(merged, stale, true), merged);
});

test('a payment not shown goes where the server orders it, ties broken by id', () => {
  const list = [at('c', '2026-11-26T01:00:03Z'), at('b', '2026-11-26T01:00:02Z'), at('a', '2026-11-26T01:00:01Z')];
  const ids = (l) => l.map((p) => p.id);
  assert.deepEqual(ids(mergePayment(list, at('d', '2026-11-26T01:00:04Z'), true)), ['d', 'c', 'b', 'a']);
  assert.deepEqual(ids(mergePayment(list, at('bb', '2026-11-26T01:00:02.5Z'), true)), ['c', 'bb', 'b', 'a']);
  assert.deepEqual(ids(mergePayment(list, at('bz', '2026-11-26T01:00:02Z'), true)), ['c', 'bz', 'b', 'a']);
  assert.deepEqual(ids(mergePayment(list, at('a9', '2026-11-26T01:00:02Z'), false)), ['c', 'b', 'a9', 'a']);
});

test('a payment older than the last one shown waits for its page while pages remain', () => {
  const list = [at('c', '2026-11-26T01:00:03Z'), at('b', '2026-11-26T01:00:02Z')];
  const old = at('a', '2026-11-26T01:00:01Z');
  assert.equal(mergePayment(list, old, true), list);
  assert.deepEqual(mergePayment(list, old, false).map((p) => p.id), ['c', 'b', 'a']);
});

test('a fetched page keeps the newer state of a payment that arrived live meanwhile', () => {
  const fetched = [at('b', '2026-11-26T01:00:02Z'), at('a', '2026-11-26T01:00:01Z')];
  const live = [{ ...fetched[1], updatedAt: '2026-11-26T01:30:00Z', status: 'REFUNDED' }];
  assert.deepEqual(newerOf(fetched, live).map((p) => p.status), ['SUCCEEDED', 'REFUNDED']);
  const older = [{ ...fetched[0], updatedAt: '2026-11-26T00:00:00Z', status: 'PENDING' }];
  assert.deepEqual(newerOf(fetched, older).map((p) => p.status), ['SUCCEEDED', 'SUCCEEDED']);
});
