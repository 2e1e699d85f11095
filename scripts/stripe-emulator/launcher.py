#!/usr/bin/env python3
"""Tollgate's Stripe emulator: localstripe 1.15.10, adjusted to behave closer to today's Stripe.

localstripe is a stateful Stripe emulator, but version 1.15.10 is far from the current API. This
launcher imports it and patches its aiohttp app and resource classes in memory before serving;
nothing in site-packages is edited. The patches live in the `tollgate_emulator` package next to
this file, one module per Stripe resource or concern; each module's docstring names the Stripe
behaviour it imitates, `install_patches()` below applies them in a fixed order, and
`tests/api/emulator.rs` covers each one.

The patches replace private methods of localstripe, so the launcher refuses to start (exit
status 2) unless the installed localstripe is `tollgate_emulator.PATCHED_FOR`, the version
scripts/stripe-emulator/ensure-venv installs; TOLLGATE_EMULATOR_ANY_VERSION=1 overrides that.

Usage: launcher.py [--port 0] [--host 127.0.0.1] [--quiet] [--webhook URL --webhook-secret S]
--webhook (or EMULATOR_WEBHOOK_URL, with EMULATOR_WEBHOOK_SECRET) registers one endpoint for
every event at start, as /_config/webhooks/tollgate would: the compose demo's emulator is told
where the gateway is without a second process.
Prints `LISTENING <port>` on stdout once it accepts connections. Stops when its parent dies.

Test-only control routes (never part of Stripe):
  POST   /_config/webhooks/{id}   url, secret, events[]   register a webhook endpoint (stock)
  POST   /_config/chaos           mode=error|hang|delay|drop|drop_unprocessed, count=N,
                                  [seconds=S, method=M, path=/v1/…]  misbehave on the next N
                                  matching /v1 requests (see tollgate_emulator/middleware.py)
  DELETE /_config/chaos                                      stop failing
  DELETE /_config/data                                       forget every object (stock)
  GET    /_config/requests                                   every /v1 request seen: method, path
  GET    /_config/deliveries                                 every webhook delivery: event, type,
                                  endpoint, attempts, delivered, last_status (retried as Stripe)
"""

import argparse
import ctypes
import os
import signal
import socket
import sys

# Import the patches from next to this file, so nothing needs installing, and write no
# __pycache__ into the repository.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

# The package itself imports nothing from localstripe: the version is checked before any import.
from tollgate_emulator import check_localstripe_version  # noqa: E402


def install_patches():
    """Imports localstripe and applies every patch, in this order. Returns the patched app."""
    # Importing changes nothing; the install() calls below do the patching.
    from tollgate_emulator import (app, charges, coupons, deliveries, errors,  # noqa: F401
                                   events, invoice_payments, invoices, middleware,
                                   payment_intents, payment_methods, prices, products,
                                   prorations, refunds, setup_intents, store, subscriptions,
                                   test_clocks)
    store.install()
    events.install()
    deliveries.install()
    errors.install()
    payment_methods.install()
    setup_intents.install()
    charges.install()
    payment_intents.install()
    refunds.install()
    products.install()
    # prices: a new resource, nothing to patch; app.build_app adds its routes.
    test_clocks.install()
    coupons.install()
    subscriptions.install()
    prorations.install()
    # invoice_payments: a new resource, nothing to patch; invoices.install() lists an invoice's
    # payments and app.build_app adds their routes.
    invoices.install()
    # middleware: nothing to patch; app.build_app adds the middlewares and control routes.
    return app.build_app()


def die_with_parent():
    """Stop when the process that started us dies, so a killed test leaves no emulator."""
    try:
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--quiet', action='store_true', help='no access log')
    parser.add_argument('--webhook', default=os.environ.get('EMULATOR_WEBHOOK_URL'),
                        help='deliver every event to this URL (signed with --webhook-secret)')
    parser.add_argument('--webhook-secret', default=os.environ.get('EMULATOR_WEBHOOK_SECRET'))
    args = parser.parse_args()
    if args.webhook and not (args.webhook.startswith('http') and args.webhook_secret):
        parser.error('--webhook needs an http(s) URL and --webhook-secret')
    die_with_parent()
    check_localstripe_version()
    app = install_patches()
    if args.webhook:
        from localstripe.webhooks import register_webhook
        # The secret may be a list (STRIPE_WEBHOOK_SECRETS' rotation form): the newest signs.
        register_webhook('tollgate', args.webhook, args.webhook_secret.split(',')[0].strip(), None)
    from aiohttp import web  # here, not above: only once localstripe's version is checked

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    from tollgate_emulator import invoices as invoice_patches
    invoice_patches.PUBLIC_BASE = 'http://%s:%d' % (args.host, port)
    # Listening now queues early connections until aiohttp accepts them.
    sock.listen(128)

    async def announce(_app):
        print('LISTENING %d' % port, flush=True)

    app.on_startup.append(announce)
    access_log = None
    if not args.quiet:
        import logging
        access_log = logging.getLogger('aiohttp.access')
        access_log.setLevel(logging.INFO)
        access_log.addHandler(logging.StreamHandler(sys.stderr))
    logging_webhooks = __import__('logging').getLogger('aiohttp.access')
    if args.quiet:
        logging_webhooks.disabled = True
    web.run_app(app, sock=sock, access_log=access_log, print=None)


if __name__ == '__main__':
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    main()
