// GraphQL over HTTP conformance: graphql-http's own audits against the gateway's /graphql.
// Every audit must pass; a warning (a SHOULD) fails too unless it is in ALLOWED with the reason
// Tollgate departs from the recommendation on purpose.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { serverAudits } from 'graphql-http';
import { startTollgate } from '../harness.mjs';

/** Audit id -> why Tollgate answers differently on purpose. Empty: none is needed. */
const ALLOWED = {};

let app;

before(async () => {
  app = await startTollgate();
});

after(async () => {
  await app?.stop();
});

describe('graphql-http serverAudits', () => {
  // The audits are created up front (they only hold the URL getter), one test each.
  for (const audit of serverAudits({ url: () => `${app.url}/graphql` })) {
    test(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      if (result.status === 'ok' || result.status === 'notice') return;
      const body = await result.response.text().catch(() => '');
      const detail = `${result.status.toUpperCase()}: ${result.reason}\n  response ${result.response.status} ${result.response.headers.get('content-type')}: ${body.slice(0, 300)}`;
      if (ALLOWED[audit.id]) {
        console.log(`allowed ${audit.id}: ${ALLOWED[audit.id]}\n  ${detail}`);
        return;
      }
      assert.fail(detail);
    });
  }
});
