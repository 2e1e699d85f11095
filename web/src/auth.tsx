// Sign-in for the demo: the user pastes a bearer token (scripts/dev prints one for a user and
// one for an admin). It is kept in sessionStorage — this tab only, gone when the tab closes —
// and checked against the gateway (`viewer`) before it is used; the gateway decides who is
// an admin, the SPA only hides pages a non-admin could not use anyway.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, GraphQLClient } from './graphql/client';
import { ClientContext } from './graphql/hooks';
import { ViewerQuery } from './graphql/operations';
import { webSocketUrl, type Settings } from './settings';

const STORAGE_KEY = 'tollgate.token';

export interface Viewer {
  id: string;
  email: string | null;
  isAdmin: boolean;
}

interface Auth {
  viewer: Viewer | null;
  /** Why a stored token could not be checked (the gateway unreachable, say); it is kept. */
  problem: string | null;
  /** Checks the token with the gateway; resolves an error message, or null when signed in. */
  signIn: (token: string) => Promise<string | null>;
  signOut: () => void;
}

const AuthContext = createContext<Auth | null>(null);

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error('useAuth outside <AuthProvider>');
  return auth;
}

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: signed out
  }
}

function newClient(settings: Settings, token: string | null): GraphQLClient {
  return new GraphQLClient(settings.graphqlPath, webSocketUrl(settings.graphqlWsPath), token);
}

async function checkToken(settings: Settings, token: string): Promise<Viewer> {
  const probe = newClient(settings, token);
  try {
    return (await probe.request(ViewerQuery)).viewer;
  } finally {
    probe.dispose();
  }
}

export function AuthProvider({ settings, children }: { settings: Settings; children: ReactNode }) {
  const [token, setToken] = useState<string | null>(storedToken);
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  // A stored token is re-checked on load; pages wait for that instead of flashing "sign in".
  const [checking, setChecking] = useState(token !== null);

  const client = useMemo(() => newClient(settings, token), [settings, token]);
  useEffect(() => () => client.dispose(), [client]);

  useEffect(() => {
    const stored = storedToken();
    if (!stored) return;
    checkToken(settings, stored)
      .then(setViewer)
      .catch((err: unknown) => {
        setToken(null);
        // Only the gateway's refusal signs out; after a network error a reload tries again.
        if (err instanceof ApiError && (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN')) {
          sessionStorage.removeItem(STORAGE_KEY);
        } else {
          setProblem(`Your sign-in could not be checked: ${err instanceof Error ? err.message : String(err)}`);
        }
      })
      .finally(() => setChecking(false));
  }, [settings]);

  const signIn = useCallback(
    async (raw: string) => {
      const candidate = raw.trim().replace(/^Bearer\s+/i, '');
      if (!candidate) return 'Paste a token first.';
      try {
        const checked = await checkToken(settings, candidate);
        sessionStorage.setItem(STORAGE_KEY, candidate);
        setToken(candidate);
        setViewer(checked);
        setProblem(null);
        return null;
      } catch (err) {
        return err instanceof ApiError ? `${err.message} (${err.code})` : String(err);
      }
    },
    [settings],
  );

  const signOut = useCallback(() => {
    sessionStorage.removeItem(STORAGE_KEY);
    setToken(null);
    setViewer(null);
    setProblem(null);
  }, []);

  const auth = useMemo(() => ({ viewer, problem, signIn, signOut }), [viewer, problem, signIn, signOut]);
  if (checking) return <p className="muted page">Checking your sign-in…</p>;
  return (
    <AuthContext.Provider value={auth}>
      <ClientContext.Provider value={client}>{children}</ClientContext.Provider>
    </AuthContext.Provider>
  );
}
