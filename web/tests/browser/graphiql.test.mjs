// GraphiQL at /graphql, from the gateway's own assets (no CDN: this machine has no internet):
// it loads, runs a query and shows the answer, and its docs explorer has the schema; the
// demo's token is pre-filled as the Authorization header.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { screenshot, suite, userContext } from './browser.mjs';

const env = suite({ graphiqlUser: 'graphiql-user' });

/** Puts `query` in the editor, runs it, and returns the result pane. */
async function run(page, query) {
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.waitFor();
  // Set the text through CodeMirror's own API: typing would fight its auto-closing brackets.
  await editor.evaluate((node, text) => node.CodeMirror.setValue(text), query);
  await page.getByRole('button', { name: /Execute query/ }).click();
  return page.locator('.graphiql-response .result-window');
}

test('GraphiQL loads offline, runs { products { name } } and shows the answer', async () => {
  const user = await userContext(env.browser, env.app);
  try {
    const page = await user.page('/graphql');
    const result = await run(page, '{ products { name } }');
    await result.getByText('Rust Payments Handbook (e-book)').waitFor();
    const answer = JSON.parse(await result.evaluate((node) => node.querySelector('.CodeMirror').CodeMirror.getValue()));
    assert.deepEqual(
      answer.data.products.map((p) => p.name).sort(),
      ['Rust Payments Handbook (e-book)', 'Sticker pack', 'Tollgate Pro'],
    );
    await screenshot(page, 'graphiql');

    // The docs explorer reads the schema by introspection.
    await page.getByRole('button', { name: /Show Documentation Explorer/ }).click();
    await page.locator('.graphiql-doc-explorer').getByText('Query').first().waitFor();
    user.assertClean();
  } finally {
    await user.close();
  }
});

test("GraphiQL sends the demo's pre-filled token", async () => {
  const user = await userContext(env.browser, env.app);
  try {
    const page = await user.page('/graphql');
    const result = await run(page, '{ viewer { id } }');
    await result.getByText('graphiql-user').waitFor();
    user.assertClean();
  } finally {
    await user.close();
  }
});
