"""The hosted invoice page and the invoice PDF a finalized invoice links to
(`hosted_invoice_url`, `invoice_pdf`): a plain page with the number, status, lines and totals,
and a one-page PDF with the same; and a charge's receipt (`receipt_url`). Public, as Stripe's
are, so browser tests can open what a customer would.
https://docs.stripe.com/invoicing/hosted-invoice-page, https://docs.stripe.com/receipts

Nothing to patch here: app.build_app adds the routes.
"""

import html

import localstripe.resources as R
from aiohttp import web


def _money(amount, currency):
    return '%s %s' % (amount, currency.upper())


async def hosted_page(request):
    invoice = R.store.get('invoice:' + request.match_info['id'])
    if invoice is None or not invoice.number:
        raise web.HTTPNotFound()
    rows = ''.join('<tr><td>%s</td><td>%s</td></tr>' % (
        html.escape(str(line.description or '')), _money(line.amount, invoice.currency))
        for line in invoice.lines._list)
    body = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Invoice %s</title>'
            '</head><body><h1>Invoice %s</h1><p>Status: %s</p><table>%s</table>'
            '<p>Total: %s</p><p>Paid: %s</p></body></html>') % (
        html.escape(invoice.number), html.escape(invoice.number), invoice.status, rows,
        _money(invoice.total, invoice.currency), _money(invoice.amount_paid, invoice.currency))
    return web.Response(text=body, content_type='text/html')


def _pdf(lines):
    """A minimal valid one-page PDF showing `lines` of text."""
    text = 'BT /F1 12 Tf 50 780 Td 14 TL ' + ' '.join(
        '(%s) Tj T*' % l.replace('\\', '\\\\').replace('(', '\\(').replace(')', '\\)')
        for l in lines) + ' ET'
    objects = [
        '<< /Type /Catalog /Pages 2 0 R >>',
        '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R '
        '/Resources << /Font << /F1 5 0 R >> >> >>',
        '<< /Length %d >>\nstream\n%s\nendstream' % (len(text), text),
        '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ]
    out, offsets = '%PDF-1.4\n', []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += '%d 0 obj\n%s\nendobj\n' % (i, obj)
    xref = len(out)
    out += 'xref\n0 %d\n0000000000 65535 f \n' % (len(objects) + 1)
    out += ''.join('%010d 00000 n \n' % o for o in offsets)
    out += 'trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n' % (
        len(objects) + 1, xref)
    return out.encode('latin-1', 'replace')


async def pdf(request):
    invoice = R.store.get('invoice:' + request.match_info['id'])
    if invoice is None or not invoice.number:
        raise web.HTTPNotFound()
    lines = ['Invoice %s' % invoice.number, 'Status: %s' % invoice.status]
    lines += ['%s  %s' % (line.description or '', _money(line.amount, invoice.currency))
              for line in invoice.lines._list]
    lines.append('Total: %s' % _money(invoice.total, invoice.currency))
    return web.Response(body=_pdf(lines), content_type='application/pdf')


async def receipt(request):
    charge = R.store.get('charge:' + request.match_info['id'])
    if charge is None or charge.status != 'succeeded':
        raise web.HTTPNotFound()
    body = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Receipt %s</title>'
            '</head><body><h1>Receipt %s</h1><p>Amount paid: %s</p></body></html>') % (
        charge.receipt_number, charge.receipt_number, _money(charge.amount, charge.currency))
    return web.Response(text=body, content_type='text/html')


def add_routes(app):
    app.router.add_route('GET', '/r/{id}', receipt)
    app.router.add_route('GET', '/i/{id}', hosted_page)
    app.router.add_route('GET', '/i/{id}/pdf', pdf)
