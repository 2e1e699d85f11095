"""Webhook deliveries retried as Stripe retries them.

Stripe keeps delivering an event to an endpoint that did not answer 2xx (no connection, a
timeout, any other status) with exponential backoff, for up to three days in live mode
(https://docs.stripe.com/webhooks#retries); an endpoint that was down, or whose database was,
still gets every event. localstripe 1.15.10 tries once and forgets. Here each (event, endpoint)
delivery is retried on the same principle with the schedule compressed to seconds so tests can
wait for it: 1 s after the event (as localstripe), then after 1, 2, 4, 8 s and every 10 s,
for at most DELIVERY_ATTEMPTS attempts (about five minutes). Each attempt is signed with its
own timestamp, as Stripe's are.

Test-only route (never part of Stripe): GET /_config/deliveries lists every delivery:
`event`, `type`, `endpoint` (the URL), `attempts`, `delivered` (a 2xx was received) and
`last_status` (the last HTTP status, or null when no answer came), oldest first.
"""

import asyncio
import hashlib
import hmac
import json
import logging
import time

import aiohttp
from aiohttp import web

import localstripe.server as S
import localstripe.webhooks as W

from . import once

DELIVERY_ATTEMPTS = 36
ATTEMPT_TIMEOUT = 10  # seconds for one attempt, connection included
FIRST_DELAY = 1.0
MAX_BACKOFF = 10.0

_deliveries = []  # dicts as served by /_config/deliveries, oldest first
_tasks = set()  # keep references: asyncio only holds weak ones


def _signature(secret, timestamp, payload):
    signed = b'%d.%s' % (timestamp, payload)
    return hmac.new(secret.encode('utf-8'), signed, hashlib.sha256).hexdigest()


async def _deliver(event_id, event_type, webhook, payload, record):
    logger = logging.getLogger('aiohttp.access')
    delay = FIRST_DELAY
    backoff = 1.0
    timeout = aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT)
    while record['attempts'] < DELIVERY_ATTEMPTS:
        await asyncio.sleep(delay)
        record['attempts'] += 1
        now = int(time.time())
        headers = {
            'Content-Type': 'application/json; charset=utf-8',
            'Stripe-Signature': 't=%d,v1=%s' % (now, _signature(webhook.secret, now, payload))}
        try:
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.post(webhook.url, data=payload, headers=headers) as r:
                    record['last_status'] = r.status
                    if 200 <= r.status < 300:
                        record['delivered'] = True
                        logger.info('webhook "%s" delivered (attempt %d)'
                                    % (event_type, record['attempts']))
                        return
                    logger.info('webhook "%s" failed with response code %d'
                                % (event_type, r.status))
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            record['last_status'] = None
            logger.info('webhook "%s" failed: %s' % (event_type, e))
        delay = backoff
        backoff = min(backoff * 2, MAX_BACKOFF)
    logger.info('webhook "%s" (%s) abandoned after %d attempts'
                % (event_type, event_id, record['attempts']))


async def send_webhook(event):
    """Replaces localstripe.webhooks._send_webhook: one retried delivery per endpoint."""
    payload = json.dumps(event._export(), indent=2, sort_keys=True).encode('utf-8')
    for webhook in list(W._webhooks.values()):
        if webhook.events is not None and event.type not in webhook.events:
            continue
        record = {'event': event.id, 'type': event.type, 'endpoint': webhook.url,
                  'attempts': 0, 'delivered': False, 'last_status': None}
        _deliveries.append(record)
        task = asyncio.ensure_future(_deliver(event.id, event.type, webhook, payload, record))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


async def config_deliveries(request):
    return S.json_response({'deliveries': _deliveries})


@once
def install():
    # localstripe.webhooks.schedule_webhook calls its module-global _send_webhook.
    W._send_webhook = send_webhook
