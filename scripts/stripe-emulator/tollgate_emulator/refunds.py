"""Refunds: accept `reason`; refuse to refund more than what is left on the charge; a refund
without `amount` refunds what is left; emit `refund.created` and `charge.refunded`.
https://docs.stripe.com/api/refunds
"""

import localstripe.resources as R
from localstripe.errors import UserError

from . import once
from .events import emit

REFUND_REASONS = ('duplicate', 'fraudulent', 'requested_by_customer')
_orig_refund_init = None


def _refund_init(self, charge=None, payment_intent=None, amount=None, metadata=None,
                 reason=None, **kwargs):
    if reason is not None and reason not in REFUND_REASONS:
        raise UserError(400, 'Invalid reason: must be one of ' + ', '.join(REFUND_REASONS),
                        {'param': 'reason'})
    charge_obj = None
    if payment_intent is not None and charge is None:
        pi = R.PaymentIntent._api_retrieve(payment_intent)
        charge_obj = pi.latest_charge
    elif charge is not None:
        charge_obj = R.Charge._api_retrieve(charge)
    if charge_obj is not None and charge_obj.status == 'succeeded':
        remaining = charge_obj.amount - charge_obj.amount_refunded
        wanted = R.try_convert_to_int(amount) if amount is not None else remaining
        if remaining <= 0:
            raise UserError(400, 'Charge %s has already been refunded.' % charge_obj.id,
                            {'code': 'charge_already_refunded'})
        if isinstance(wanted, int) and wanted > remaining:
            raise UserError(400, 'Refund amount (%d) is greater than unrefunded amount on '
                                 'charge (%d)' % (wanted, remaining),
                            {'code': 'amount_too_large', 'param': 'amount'})
        amount = wanted
    _orig_refund_init(self, charge=charge, payment_intent=payment_intent, amount=amount,
                      metadata=metadata, **kwargs)
    self.reason = reason
    if self.payment_intent is None:
        self.payment_intent = charge_obj.payment_intent if charge_obj else None
    emit('refund.created', self)
    emit('charge.refunded', R.Charge._api_retrieve(self.charge))


@once
def install():
    global _orig_refund_init
    _orig_refund_init = R.Refund.__init__
    R.Refund.__init__ = _refund_init
