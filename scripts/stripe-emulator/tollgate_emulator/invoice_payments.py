"""Invoice Payments (/v1/invoice_payments), missing from localstripe: since API 2025-03-31 an
invoice's payments are `invoice_payment` objects, each naming the PaymentIntent that pays it
(`payment.payment_intent`). Its status follows that PaymentIntent: `open` until it succeeds,
then `paid`, or `canceled`. Retrieve, and list (filtered by `invoice`, `payment`, `status`);
listing the payments of an unknown invoice is a `resource_missing` error.
https://docs.stripe.com/api/invoice-payment

Nothing to patch here: `InvoicePayment` is a new resource, invoices.py records one whenever an
invoice gets its PaymentIntent and emits `invoice_payment.paid`, and app.build_app adds the
routes.
"""

import localstripe.resources as R
from localstripe.errors import UserError

URL = '/v1/invoice_payments'
STATUSES = ('open', 'paid', 'canceled')


def _missing(kind, id, param):
    return UserError(404, "No such %s: '%s'" % (kind, id),
                     {'code': 'resource_missing', 'param': param})


class InvoicePayment(R.StripeObject):
    object = 'invoice_payment'
    _id_prefix = 'inpay_'

    def __init__(self, invoice, payment_intent):
        super().__init__()
        self.invoice = invoice.id
        self.amount_requested = payment_intent.amount
        self.currency = payment_intent.currency
        self.is_default = True
        self.payment = {'type': 'payment_intent', 'payment_intent': payment_intent.id}
        # Whether `invoice_payment.paid` was sent (invoices.py sends it once).
        self._announced = False

    def _payment_intent(self):
        return R.PaymentIntent._api_retrieve(self.payment['payment_intent'])

    @property
    def status(self):
        pi_status = self._payment_intent().status
        if pi_status == 'succeeded':
            return 'paid'
        if pi_status == 'canceled':
            return 'canceled'
        return 'open'

    @property
    def amount_paid(self):
        # Null until the payment is paid.
        if self.status != 'paid':
            return None
        return min(self.amount_requested, self._payment_intent().amount_received)

    @property
    def status_transitions(self):
        status = self.status
        paid_at = canceled_at = None
        if status == 'paid':
            invoice = R.store.get('invoice:' + self.invoice)
            paid_at = invoice.status_transitions.get('paid_at') if invoice else None
        elif status == 'canceled':
            canceled_at = getattr(self._payment_intent(), 'canceled_at', None)
        return {'paid_at': paid_at, 'canceled_at': canceled_at}

    @classmethod
    def _api_retrieve(cls, id):
        obj = R.store.get(cls.object + ':' + id)
        if obj is None:
            raise _missing('invoice_payment', id, 'id')
        return obj

    @classmethod
    def _api_create(cls, **data):
        raise UserError(405, 'Invoice payments are created by paying invoices.')

    @classmethod
    def _api_update(cls, id, **data):
        raise UserError(405, 'Invoice payments cannot be updated.')

    @classmethod
    def _api_delete(cls, id):
        raise UserError(405, 'Invoice payments cannot be deleted.')

    @classmethod
    def _api_list_all(cls, url, invoice=None, payment=None, status=None, limit=None,
                      starting_after=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
        li = R.List(url, limit=limit, starting_after=starting_after)
        items = [v for k, v in R.store.items() if k.startswith(cls.object + ':')]
        if invoice is not None:
            if not isinstance(invoice, str) or R.store.get('invoice:' + invoice) is None:
                raise _missing('invoice', invoice, 'invoice')
            items = [p for p in items if p.invoice == invoice]
        if payment is not None:
            if not isinstance(payment, dict) or \
                    payment.get('type', 'payment_intent') != 'payment_intent':
                raise UserError(400, 'Invalid payment[type]: only payment_intent is emulated',
                                {'param': 'payment[type]'})
            pi = payment.get('payment_intent')
            if pi is not None:
                items = [p for p in items if p.payment['payment_intent'] == pi]
        if status is not None:
            if status not in STATUSES:
                raise UserError(400, 'Invalid status: must be one of ' + ', '.join(STATUSES),
                                {'param': 'status'})
            items = [p for p in items if p.status == status]
        # Newest first, as Stripe lists.
        li._list = sorted(items, key=lambda p: p.created, reverse=True)
        return li


def payments_of(invoice):
    """The invoice's payments, oldest first."""
    return list(getattr(invoice, '_tg_payments', ()))


def record_payment(invoice, payment_intent):
    """Makes `payment_intent` the one paying `invoice`: sets the legacy `payment_intent` field
    and the invoice's default payment. A new attempt with another PaymentIntent moves the
    default payment to it, as Stripe keeps one default payment per invoice."""
    invoice.payment_intent = payment_intent.id
    payment_intent.invoice = invoice.id
    payments = getattr(invoice, '_tg_payments', None)
    if payments is None:
        payments = invoice._tg_payments = []
    current = next((p for p in payments if p.is_default), None)
    if current is not None and current.status == 'open':
        current.payment['payment_intent'] = payment_intent.id
        current.amount_requested = payment_intent.amount
        current.currency = payment_intent.currency
        return current
    if current is not None:
        current.is_default = False
    payment = InvoicePayment(invoice, payment_intent)
    payments.append(payment)
    return payment


def payments_list(invoice):
    """The `payments` field of an invoice (API 2025-03-31+)."""
    url = URL + ('?invoice=' + invoice.id if invoice.id else '')
    return {'object': 'list', 'data': [p._export() for p in payments_of(invoice)],
            'has_more': False, 'url': url}
