// Stripe.js from the URL the gateway configures (settings.stripeJsUrl), not from the URL that
// @stripe/stripe-js's loadStripe() hard-codes: production loads Stripe's own script, the demo
// and the tests the emulator's. The script must come from its origin (Stripe forbids bundling
// it), so it is injected as a <script src>; the CSP allows that origin.
import type { Stripe } from '@stripe/stripe-js';
import type { Settings } from './settings';

let loading: Promise<Stripe | null> | null = null;

/** The Stripe object, or null when the gateway has no publishable key (no payments). */
export function loadStripe(settings: Settings): Promise<Stripe | null> {
  loading ??= load(settings);
  return loading;
}

async function load(settings: Settings): Promise<Stripe | null> {
  const key = settings.stripePublishableKey;
  if (!key) return null;
  if (!window.Stripe) await injectScript(settings.stripeJsUrl);
  if (!window.Stripe) throw new Error(`Stripe.js from ${settings.stripeJsUrl} did not load.`);
  return window.Stripe(key);
}

function injectScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.async = true;
    script.addEventListener('load', () => resolve());
    script.addEventListener('error', () =>
      reject(new Error(`Stripe.js could not be loaded from ${src}.`)),
    );
    document.head.appendChild(script);
  });
}
