// Six pages do not need a routing library: the path picks the page, links push history, and
// the back button works. The gateway answers every extension-less path with index.html.
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

export type Route = 'shop' | 'payments' | 'invoices' | 'subscriptions' | 'cards' | 'admin' | 'sign-in';

const ROUTES: Record<string, Route> = {
  '/': 'shop',
  '/shop': 'shop',
  '/payments': 'payments',
  '/invoices': 'invoices',
  '/subscriptions': 'subscriptions',
  '/cards': 'cards',
  '/admin': 'admin',
  '/sign-in': 'sign-in',
};

export function routeOf(pathname: string): Route | null {
  return ROUTES[pathname.replace(/\/+$/, '') || '/'] ?? null;
}

export function navigate(path: string): void {
  if (path === window.location.pathname + window.location.search) return;
  window.history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
  window.scrollTo(0, 0);
}

export function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return path;
}

/** An <a> that navigates in place (ctrl/cmd-click still opens a new tab). */
export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={click} {...rest} />;
}
