// The shell: loads the gateway's settings and Stripe.js, then the signed-in layout and the page
// the path names. Every page sits under an error boundary.
import { Elements } from '@stripe/react-stripe-js';
import type { Stripe } from '@stripe/stripe-js';
import { useEffect, useState, type ReactNode } from 'react';
import { AuthProvider, useAuth } from './auth';
import { ErrorBoundary } from './components/ErrorBoundary';
import { AdminPage } from './pages/Admin';
import { CardsPage } from './pages/Cards';
import { InvoicesPage } from './pages/Invoices';
import { PaymentsPage } from './pages/Payments';
import { ShopPage } from './pages/Shop';
import { SignInPage } from './pages/SignIn';
import { SubscriptionsPage } from './pages/Subscriptions';
import { Link, routeOf, usePath, type Route } from './router';
import { loadSettings, type Settings } from './settings';
import { loadStripe } from './stripe';

export function App() {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useEffect(() => {
    loadSettings().then(setSettings, (e: Error) => setFailure(e.message));
  }, []);
  if (failure) return <p className="page error" role="alert">{failure}</p>;
  if (!settings) return <p className="page muted">Loading…</p>;
  return (
    <AuthProvider settings={settings}>
      <WithStripe settings={settings} />
    </AuthProvider>
  );
}

function WithStripe({ settings }: { settings: Settings }) {
  // Passed to <Elements> as a promise, as react-stripe-js expects; resolved once per page load.
  const [stripe] = useState(() => loadStripe(settings));
  // <Elements> must get the same promise on every render; a failed load means "no Stripe".
  const [forElements] = useState(() => stripe.catch(() => null));
  const [state, setState] = useState<{ ready: boolean; error: string | null }>({ ready: false, error: null });
  useEffect(() => {
    stripe.then(
      (s: Stripe | null) => setState({ ready: s !== null, error: null }),
      (e: Error) => setState({ ready: false, error: e.message }),
    );
  }, [stripe]);
  return (
    <Elements stripe={forElements}>
      <Layout stripeError={state.error}>
        <Page stripeReady={state.ready} />
      </Layout>
    </Elements>
  );
}

const NAV: { route: Route; href: string; label: string; signedIn?: boolean; admin?: boolean }[] = [
  { route: 'shop', href: '/', label: 'Shop' },
  { route: 'payments', href: '/payments', label: 'Payments', signedIn: true },
  { route: 'invoices', href: '/invoices', label: 'Invoices', signedIn: true },
  { route: 'subscriptions', href: '/subscriptions', label: 'Subscriptions', signedIn: true },
  { route: 'cards', href: '/cards', label: 'Cards', signedIn: true },
  { route: 'admin', href: '/admin', label: 'Admin', admin: true },
];

function Layout({ children, stripeError }: { children: ReactNode; stripeError: string | null }) {
  const { viewer, problem, signOut } = useAuth();
  const route = routeOf(usePath());
  return (
    <>
      <header className="top">
        <Link href="/" className="brand">Tollgate</Link>
        <nav>
          {NAV.filter((n) => (!n.signedIn || viewer) && (!n.admin || viewer?.isAdmin)).map((n) => (
            <Link key={n.route} href={n.href} aria-current={route === n.route ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div className="who">
          {viewer ? (
            <>
              <span className="muted">{viewer.email ?? viewer.id}{viewer.isAdmin ? ' · admin' : ''}</span>
              <button type="button" className="link" onClick={signOut}>Sign out</button>
            </>
          ) : (
            <Link href="/sign-in">Sign in</Link>
          )}
        </div>
      </header>
      {problem ? <p className="banner error" role="alert">{problem}</p> : null}
      {stripeError ? <p className="banner error" role="alert">{stripeError} Payments are unavailable.</p> : null}
      <main>
        <ErrorBoundary key={route ?? 'none'}>{children}</ErrorBoundary>
      </main>
    </>
  );
}

function Page({ stripeReady }: { stripeReady: boolean }) {
  const { viewer } = useAuth();
  const route = routeOf(usePath());
  if (route === null) {
    return (
      <div className="page">
        <h1>Not found</h1>
        <p><Link href="/">Back to the shop</Link></p>
      </div>
    );
  }
  if (route === 'shop') return <ShopPage stripeReady={stripeReady} />;
  if (route === 'sign-in') return <SignInPage />;
  if (!viewer) {
    return (
      <div className="page">
        <p>
          <Link href="/sign-in">Sign in</Link> to see this page.
        </p>
      </div>
    );
  }
  switch (route) {
    case 'payments':
      return <PaymentsPage />;
    case 'invoices':
      return <InvoicesPage />;
    case 'subscriptions':
      return <SubscriptionsPage />;
    case 'cards':
      return <CardsPage stripeReady={stripeReady} />;
    case 'admin':
      return viewer.isAdmin ? <AdminPage /> : <p className="page error">Admins only.</p>;
  }
}
