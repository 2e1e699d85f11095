// GraphiQL from our own bundle (no CDN): it works offline and under the gateway's CSP. Queries
// go to /graphql, subscriptions to /graphql/ws (graphql-ws); the demo pre-fills the headers
// with a token from /settings.json.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { loadSettings, webSocketUrl, type Settings } from '../settings';
import './graphiql.css';

const EXAMPLE = `# Tollgate's GraphQL API. Try:
{
  products {
    name
    prices { id unitAmount { formatted } recurring { interval } }
  }
}
`;

// GraphiQL sends the Headers editor's content with every request; for subscriptions the
// gateway reads the token from connection_init, which the fetcher fills from the same headers.
function Explorer({ settings }: { settings: Settings }) {
  const [fetcher] = useState(() =>
    createGraphiQLFetcher({
      url: settings.graphqlPath,
      subscriptionUrl: webSocketUrl(settings.graphqlWsPath),
    }),
  );
  return (
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={EXAMPLE}
      defaultHeaders={settings.graphiqlHeaders ?? undefined}
      isHeadersEditorEnabled
      shouldPersistHeaders={false}
    />
  );
}

function Page() {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    loadSettings().then(setSettings, (e: Error) => setFailure(e.message));
  }, []);
  if (failure) return <p className="graphiql-failure">{failure}</p>;
  if (!settings) return null;
  return <Explorer settings={settings} />;
}

const root = document.getElementById('graphiql');
if (!root) throw new Error('graphiql.html has no #graphiql');
createRoot(root).render(
  <StrictMode>
    <Page />
  </StrictMode>,
);
