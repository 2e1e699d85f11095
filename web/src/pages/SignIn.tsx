// Sign in by pasting a bearer token (the demo prints a user and an admin token). The token is
// checked with the gateway before it is kept, for this tab only.
import { useState } from 'react';
import { useAuth } from '../auth';
import { ErrorMessage } from '../components/ErrorMessage';
import { navigate } from '../router';

export function SignInPage() {
  const { viewer, signIn, signOut } = useAuth();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (viewer) {
    return (
      <div className="page narrow">
        <h1>Signed in</h1>
        <p>
          You are <strong>{viewer.email ?? viewer.id}</strong>
          {viewer.isAdmin ? ' (admin)' : ''}.
        </p>
        <button type="button" onClick={signOut}>Sign out</button>
      </div>
    );
  }

  return (
    <div className="page narrow">
      <h1>Sign in</h1>
      <p className="muted">
        Paste a bearer token from your identity provider. For the demo, <code>scripts/dev</code> prints a
        user token and an admin token. It is kept in this tab only.
      </p>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          const problem = await signIn(token);
          setBusy(false);
          setError(problem);
          if (!problem) navigate('/');
        }}
      >
        <label htmlFor="token">Token</label>
        <textarea
          id="token"
          rows={5}
          value={token}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => setToken(e.target.value)}
          placeholder="eyJhbGciOi…"
        />
        <button type="submit" className="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
      <ErrorMessage error={error} />
    </div>
  );
}
