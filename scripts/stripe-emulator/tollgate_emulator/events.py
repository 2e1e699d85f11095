"""Events and webhook scheduling: Stripe events carry `request` (id and idempotency key of the
API call that caused them) and `pending_webhooks`; objects Stripe creates behind the scenes send
no webhooks. https://docs.stripe.com/api/events/object

`emit` and `quietly` are the helpers the other modules use to send (or not send) events.
"""

import contextvars

import localstripe.resources as R
import localstripe.webhooks as W

from . import once

# The API request being served: {'id': 'req_...', 'idempotency_key': ... or None}; set by
# middleware.idempotency_middleware.
current_request = contextvars.ContextVar('current_request', default=None)
_muted = contextvars.ContextVar('muted_events', default=False)

_orig_event_init = None
_orig_schedule_webhook = None


def _event_init(self, type, data):
    _orig_event_init(self, type, data)
    req = current_request.get()
    self.request = {'id': req['id'] if req else None,
                    'idempotency_key': req['idempotency_key'] if req else None}
    self.pending_webhooks = sum(
        1 for w in W._webhooks.values() if w.events is None or type in w.events)


def schedule_webhook(event):
    if not _muted.get():
        _orig_schedule_webhook(event)


def emit(type, obj, previous_attributes=None):
    event = R.Event(type, obj)
    if previous_attributes:
        event.data['previous_attributes'] = previous_attributes
    schedule_webhook(event)
    return event


def quietly(fn, *args, **kwargs):
    """Runs fn without emitting events (for objects Stripe creates behind the scenes)."""
    token = _muted.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        _muted.reset(token)


def diff(before, after):
    """The `previous_attributes` of an `*.updated` event, from two exports of the object."""
    return {k: before.get(k) for k in after.keys() | before.keys()
            if k not in ('items',) and before.get(k) != after.get(k)}


@once
def install():
    global _orig_event_init, _orig_schedule_webhook
    _orig_event_init = R.Event.__init__
    R.Event.__init__ = _event_init
    # localstripe.resources calls its module-global schedule_webhook for every stock event.
    _orig_schedule_webhook = R.schedule_webhook
    R.schedule_webhook = schedule_webhook
