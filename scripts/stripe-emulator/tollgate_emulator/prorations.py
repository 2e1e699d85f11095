"""Changing a subscription's price or quantity, and previewing that change, as Stripe prorates:

- Prorations are by the second: at the proration date `t` of the period [start, end), the old
  item is credited `-(old unit x quantity) x (end - t) / (end - start)` ("Unused time on …") and
  the new one charged `(new unit x quantity) x (end - t) / (end - start)` ("Remaining time on
  …"), each rounded to the minor unit (half to even). `proration_date` fixes `t` (it must lie
  in the current period), so a preview and the update made with its date agree to the unit.
  https://docs.stripe.com/billing/subscriptions/prorations
- `proration_behavior`: `create_prorations` (default) leaves the proration items for the next
  invoice, `always_invoice` invoices (and charges) them at once, `none` prorates nothing.
  Moving to another billing interval restarts the period now and invoices at once.
  https://docs.stripe.com/api/subscriptions/update#update_subscription-proration_behavior
- `payment_behavior=error_if_incomplete`: when the invoice made by the update cannot be paid, the
  update is not applied and the answer is the card error (402).
  https://docs.stripe.com/billing/subscriptions/pending-updates
- `POST /v1/invoices/create_preview` with `subscription` and `subscription_details` (`items`,
  `proration_date`, `proration_behavior`) and `discounts` answers, without changing anything,
  the invoice the change would make now (`always_invoice`) or the next one (otherwise), with the
  subscription's discount or the one previewed. https://docs.stripe.com/api/invoices/create_preview
- Periods move: a subscription's period starts at its billing anchor, which renewals (test
  clocks) and interval changes advance; items report the period (API >= 2025-03-31).
"""

from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal

import localstripe.resources as R
from dateutil.relativedelta import relativedelta
from localstripe.errors import UserError

from . import once
from .coupons import active_discount, clock_now, discount_amount, validate
from .events import quietly


def period_end(start, plan):
    begin = datetime.fromtimestamp(start, timezone.utc)
    count = plan.interval_count or 1
    step = {'day': timedelta(days=count), 'week': timedelta(days=7 * count),
            'month': relativedelta(months=count), 'year': relativedelta(years=count)}
    return int((begin + step[plan.interval]).timestamp())


def anchor(sub):
    return getattr(sub, '_tg_period_start', None) or sub.start_date


def _prorate(amount, remaining, length):
    if length <= 0:
        return 0
    return int((Decimal(amount) * remaining / length).quantize(Decimal(1),
                                                             rounding=ROUND_HALF_EVEN))


def _date(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime('%d %b %Y')


def _name(plan):
    product = R.store.get('product:' + plan.product) if plan.product else None
    return product.name if product is not None else plan.id


def _line(amount, currency, plan, quantity, start, end, proration, description):
    """An invoice line in the shape Stripe answers today, with the legacy fields kept."""
    return {'object': 'line_item', 'amount': amount, 'currency': currency,
            'description': description, 'quantity': quantity, 'proration': proration,
            'period': {'start': start, 'end': end}, 'price': _price(plan), 'plan': plan.id,
            'discount_amounts': [], 'discountable': True,
            'parent': {'type': 'subscription_item_details',
                       'subscription_item_details': {'proration': proration}},
            'pricing': {'type': 'price_details', 'unit_amount_decimal': str(plan.amount),
                        'price_details': {'price': plan.id, 'product': plan.product}},
            '_product': plan.product}


def _price(plan):
    price = R.store.get('price:' + plan.id)
    return price._export() if price is not None else None


class Change:
    """A requested change of a subscription's only item, and the lines it makes at `t`."""

    def __init__(self, sub, items, proration_behavior, proration_date):
        if proration_behavior not in (None, 'create_prorations', 'none', 'always_invoice'):
            raise UserError(400, 'Invalid proration_behavior', {'param': 'proration_behavior'})
        self.sub = sub
        self.behavior = proration_behavior or 'create_prorations'
        self.old_item = sub.items._list[0]
        self.old_plan, self.old_qty = self.old_item.plan, self.old_item.quantity
        self.new_plan, self.new_qty = self.old_plan, self.old_qty
        if items:
            if not (isinstance(items, list) and len(items) == 1 and isinstance(items[0], dict)):
                raise UserError(400, 'Only one subscription item is emulated', {'param': 'items'})
            item = items[0]
            if item.get('id') not in (None, self.old_item.id):
                raise UserError(400, 'No such subscription item: %s' % item.get('id'),
                                {'param': 'items[0][id]'})
            plan_id = item.get('plan') or item.get('price')
            if plan_id:
                self.new_plan = R.Plan._api_retrieve(plan_id)
            if item.get('quantity') is not None:
                qty = R.try_convert_to_int(item['quantity'])
                if not (isinstance(qty, int) and qty > 0):
                    raise UserError(400, 'Invalid integer: quantity',
                                    {'param': 'items[0][quantity]'})
                self.new_qty = qty
        if self.new_plan.currency != self.old_plan.currency:
            raise UserError(400, 'Cannot combine currencies on a single customer.',
                            {'param': 'items'})
        self.start = anchor(sub)
        self.end = period_end(self.start, self.old_plan)
        t = R.try_convert_to_int(proration_date) if proration_date is not None \
            else clock_now(sub.customer)
        if not isinstance(t, int):
            raise UserError(400, 'Invalid timestamp', {'param': 'proration_date'})
        if proration_date is not None and not (self.start <= t <= self.end):
            raise UserError(400, 'proration_date must be within the current billing period',
                            {'param': 'proration_date'})
        self.t = min(max(t, self.start), self.end)
        self.interval_change = (self.new_plan.interval != self.old_plan.interval or
                                (self.new_plan.interval_count or 1) !=
                                (self.old_plan.interval_count or 1))

    @property
    def changed(self):
        return self.new_plan.id != self.old_plan.id or self.new_qty != self.old_qty

    @property
    def invoices_now(self):
        return self.changed and (self.interval_change or self.behavior == 'always_invoice')

    def proration_lines(self):
        if not self.changed or self.behavior == 'none' and not self.interval_change:
            return []
        length, remaining = self.end - self.start, self.end - self.t
        currency, lines = self.old_plan.currency, []
        if self.behavior != 'none' and remaining > 0:
            lines.append(_line(-_prorate(self.old_plan.amount * self.old_qty, remaining, length),
                               currency, self.old_plan, self.old_qty, self.t, self.end, True,
                               'Unused time on %d × %s after %s' % (
                                   self.old_qty, _name(self.old_plan), _date(self.t))))
        if self.interval_change:
            new_end = period_end(self.t, self.new_plan)
            lines.append(_line(self.new_plan.amount * self.new_qty, currency, self.new_plan,
                               self.new_qty, self.t, new_end, False, '%d × %s' % (
                                   self.new_qty, _name(self.new_plan))))
        elif self.behavior != 'none' and remaining > 0:
            lines.append(_line(_prorate(self.new_plan.amount * self.new_qty, remaining, length),
                               currency, self.new_plan, self.new_qty, self.t, self.end, True,
                               'Remaining time on %d × %s after %s' % (
                                   self.new_qty, _name(self.new_plan), _date(self.t))))
        return lines

    def renewal_line(self):
        start = self.end
        return _line(self.new_plan.amount * self.new_qty, self.new_plan.currency, self.new_plan,
                     self.new_qty, start, period_end(start, self.new_plan), False,
                     '%d × %s (at %s / unit)' % (self.new_qty, _name(self.new_plan),
                                                 self.new_plan.amount))


def apply_change(sub, change, payment_behavior):
    """Applies a Change to the subscription (items, anchor, proration items, the invoice)."""
    if not change.changed:
        return
    lines = change.proration_lines()
    item = change.old_item
    before = (item.plan, item.quantity, getattr(sub, '_tg_period_start', None), sub.status)
    item.plan, item.quantity = change.new_plan, change.new_qty
    sub.quantity = change.new_qty
    if change.interval_change:
        sub._tg_period_start = change.t
    pending = []
    for line in lines:
        if line['proration']:
            ii = quietly(R.InvoiceItem, amount=line['amount'], currency=line['currency'],
                         customer=sub.customer, subscription=sub.id, plan=line['plan'],
                         proration=True, description=line['description'],
                         period_start=line['period']['start'], period_end=line['period']['end'])
            ii.quantity = line['quantity']
            pending.append(ii)
    if not change.invoices_now:
        return
    invoice = R.Invoice(customer=sub.customer, subscription=sub.id, date=change.t,
                        items=[item] if change.interval_change else [])
    invoice.billing_reason = 'subscription_update'
    invoice.period_start, invoice.period_end = change.t, change.t
    invoice._finalize()
    if invoice.status != 'paid':
        try:
            R.Invoice._api_pay_invoice(invoice.id)
        except UserError:
            if payment_behavior != 'error_if_incomplete':
                raise
    sub.latest_invoice = invoice.id
    if invoice.status == 'paid' or payment_behavior != 'error_if_incomplete':
        return
    # error_if_incomplete: the update is not applied; the unpaid invoice is voided.
    item.plan, item.quantity, sub._tg_period_start, sub.status = before
    sub.quantity = item.quantity
    invoice._voided = True
    invoice.status_transitions['voided_at'] = clock_now(sub.customer)
    for ii in pending:
        ii.invoice = invoice.id
    charge = invoice.charge
    charge = R.Charge._api_retrieve(charge) if isinstance(charge, str) else charge
    raise UserError(402, getattr(charge, 'failure_message', None) or 'Your card was declined.',
                    {'code': getattr(charge, 'failure_code', None) or 'card_declined',
                     'type': 'card_error'})


class Preview:
    """A preview invoice: exported as is, never stored (Stripe keeps them 72 hours)."""

    def __init__(self, body):
        self.body = body

    def _export(self, expand=None):
        return self.body


def _total(sub, lines, when, preview_choice):
    d = None
    if preview_choice is not None and preview_choice[0] != '':
        d = R.Coupon._api_retrieve(preview_choice[0])
        amount = _coupon_off(d, lines)
        ids = []
    else:
        disc = active_discount(sub, when) if preview_choice is None else None
        amount = discount_amount(disc, [(ln['_product'], ln['amount']) for ln in lines]) \
            if disc else 0
        ids = [disc.id] if disc else []
    subtotal = sum(ln['amount'] for ln in lines)
    return subtotal, amount, ids


def _coupon_off(coupon, lines):
    class _D:
        pass
    d = _D()
    d.coupon = coupon
    return discount_amount(d, [(ln['_product'], ln['amount']) for ln in lines])


@classmethod
def create_preview(cls, customer=None, subscription=None, subscription_details=None,
                   discounts=None, **kwargs):
    if kwargs:
        raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs.keys()))
    if subscription is None:
        raise UserError(400, 'Previewing a new subscription is not emulated; pass '
                             '`subscription`.', {'param': 'subscription'})
    sub = R.Subscription._api_retrieve(subscription)
    if customer is not None and customer != sub.customer:
        raise UserError(400, 'The subscription does not belong to this customer.',
                        {'param': 'customer'})
    details = subscription_details if isinstance(subscription_details, dict) else {}
    change = Change(sub, details.get('items'), details.get('proration_behavior'),
                    details.get('proration_date'))
    choice = validate(discounts, None, None, sub.customer, [change.new_plan.product],
                      change.new_plan.currency) if discounts is not None else None
    if change.invoices_now:
        lines, when = change.proration_lines(), change.t
    else:
        lines = change.proration_lines() + [change.renewal_line()]
        when = change.end
    subtotal, off, discount_ids = _total(sub, lines, when, choice)
    total = max(0, subtotal - off)
    body = {
        'id': 'upcoming_in_' + R.random_id(14), 'object': 'invoice', 'customer': sub.customer,
        'subscription': sub.id, 'currency': change.old_plan.currency, 'status': 'draft',
        'created': when, 'period_start': change.t if change.invoices_now else change.start,
        'period_end': change.t if change.invoices_now else change.end,
        'subtotal': subtotal, 'total': total, 'amount_due': total, 'amount_paid': 0,
        'amount_remaining': total,
        'total_discount_amounts': [{'amount': off, 'discount': d} for d in discount_ids] or (
            [{'amount': off, 'discount': None}] if off else []),
        'discounts': discount_ids,
        'billing_reason': 'subscription_update' if change.invoices_now else 'upcoming',
        'parent': {'type': 'subscription_details', 'quote_details': None,
                   'subscription_details': {'subscription': sub.id,
                                            'metadata': dict(sub.metadata or {}),
                                            'subscription_proration_date': change.t}},
        'lines': {'object': 'list', 'has_more': False, 'url': '/v1/invoices/upcoming/lines',
                  'data': [{k: v for k, v in ln.items() if not k.startswith('_')}
                           for ln in lines]},
    }
    return Preview(body)


@once
def install():
    R.Invoice._api_create_preview_invoice = create_preview
