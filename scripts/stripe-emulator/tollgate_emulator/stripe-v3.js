/*
 * Tollgate's emulated Stripe.js, served by the Stripe emulator at /js.stripe.com/v3/
 * (tollgate_emulator/stripe_js.py says why it replaces localstripe's script).
 *
 * What it does like https://js.stripe.com/v3/ (https://docs.stripe.com/js):
 *   Stripe(publishableKey) -> { elements, createPaymentMethod, createToken, confirmCardPayment,
 *     confirmCardSetup, handleCardAction, handleNextAction, retrievePaymentIntent }
 *   elements(options) -> { create('card', options), getElement('card'), update(options) }
 *   the card Element: mount, unmount, destroy, on, off, once, update, focus, blur, clear,
 *     with `ready`, `change` ({elementType, empty, complete, error, brand, value}), `focus`
 *     and `blur` events.
 * Results and errors have Stripe's shapes: `{paymentIntent}` / `{setupIntent}` /
 * `{paymentMethod}`, or `{error: {type, code, decline_code, message, ...}}`.
 *
 * What differs: the card fields are plain inputs in the page (Stripe puts them in an iframe),
 * named like Stripe's own (cardnumber, exp-date, cvc, postal); 3-D Secure is localstripe's
 * dialog with "Complete authentication" and "Fail authentication". Only the card Element exists.
 */
(function () {
  'use strict';

  // The emulator's base URL, from where this script was loaded (…/js.stripe.com/v3/).
  const BASE = (function () {
    const src = document.currentScript && document.currentScript.src;
    if (!src) {
      throw new Error('Stripe.js (emulated) must be loaded from a <script src>.');
    }
    return src.replace(/\/js\.stripe\.com\/v3\/?(\?.*)?$/, '');
  })();

  // ---------------------------------------------------------------- HTTP to the emulator

  // JSON bodies without a Content-Type header: a "simple" cross-origin request (no preflight);
  // the emulator reads JSON whatever the header says.
  async function post(path, body) {
    return answer(await fetch(BASE + path, { method: 'POST', body: JSON.stringify(body) }));
  }

  async function get(path, query) {
    const qs = new URLSearchParams(query).toString();
    return answer(await fetch(BASE + path + '?' + qs));
  }

  async function answer(response) {
    const body = await response.json().catch(() => ({}));
    if (!response.ok || body.error) {
      const error = body.error || {};
      return {
        error: {
          type: error.type || (response.status === 402 ? 'card_error' : 'invalid_request_error'),
          ...error,
          message: error.message || 'The request failed (HTTP ' + response.status + ').',
        },
      };
    }
    return { body };
  }

  function networkError(err) {
    return { error: { type: 'api_connection_error', message: String((err && err.message) || err) } };
  }

  // ---------------------------------------------------------------- 3-D Secure dialog

  // localstripe's dialog: resolves true for "Complete authentication", false for "Fail".
  function openModal(text, confirmText, cancelText) {
    return new Promise((resolve) => {
      const box = document.createElement('div'),
        p = document.createElement('p'),
        confirm = document.createElement('button'),
        cancel = document.createElement('button');
      box.setAttribute('role', 'dialog');
      box.setAttribute('aria-label', '3D Secure');
      box.appendChild(p);
      box.appendChild(confirm);
      box.appendChild(cancel);
      Object.assign(box.style, {
        position: 'fixed',
        width: '300px',
        top: '50%',
        left: '50%',
        margin: '-35px 0 0 -150px',
        padding: '10px 20px',
        border: '3px solid #ccc',
        background: '#fff',
        color: '#000',
        'text-align': 'center',
        'z-index': '2147483647',
      });
      p.innerText = text;
      confirm.type = cancel.type = 'button';
      confirm.innerText = confirmText;
      cancel.innerText = cancelText;
      document.body.appendChild(box);
      const done = (result) => () => {
        box.remove();
        resolve(result);
      };
      confirm.addEventListener('click', done(true));
      cancel.addEventListener('click', done(false));
      confirm.focus();
    });
  }

  function authenticate() {
    return openModal('3D Secure\nDo you want to confirm or cancel?',
      'Complete authentication', 'Fail authentication');
  }

  // ---------------------------------------------------------------- card validation

  function digits(s) {
    return String(s || '').replace(/\D/g, '');
  }

  function luhn(number) {
    let sum = 0;
    for (let i = 0; i < number.length; i++) {
      let d = Number(number[number.length - 1 - i]);
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    return sum % 10 === 0;
  }

  function brandOf(number) {
    if (/^4/.test(number)) return 'visa';
    if (/^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/.test(number)) return 'mastercard';
    if (/^3[47]/.test(number)) return 'amex';
    if (/^(6011|65)/.test(number)) return 'discover';
    return 'unknown';
  }

  // Stripe's validation errors and messages for the card Element.
  const MESSAGES = {
    incomplete_number: 'Your card number is incomplete.',
    invalid_number: 'Your card number is invalid.',
    incomplete_expiry: "Your card's expiration date is incomplete.",
    invalid_expiry_month: "Your card's expiration date is invalid.",
    invalid_expiry_year_past: "Your card's expiration year is in the past.",
    incomplete_cvc: "Your card's security code is incomplete.",
    incomplete_zip: 'Your postal code is incomplete.',
  };

  function validationError(code) {
    return { type: 'validation_error', code, message: MESSAGES[code] };
  }

  // The card entered so far: its parts, and the first error (`final`: also report what is
  // merely incomplete, as Stripe does when the card is submitted).
  function readCard(fields, hidePostalCode, final) {
    const number = digits(fields.number.value);
    const exp = digits(fields.exp.value);
    const cvc = digits(fields.cvc.value);
    const postal = fields.postal.value.trim();
    const month = Number(exp.slice(0, 2));
    const year = 2000 + Number(exp.slice(2, 4));
    const now = new Date();
    let error = null;
    if (number.length === 16 && !luhn(number)) error = 'invalid_number';
    else if (exp.length >= 2 && (month < 1 || month > 12)) error = 'invalid_expiry_month';
    else if (exp.length === 4 && (year < now.getFullYear() ||
      (year === now.getFullYear() && month < now.getMonth() + 1))) error = 'invalid_expiry_year_past';
    else if (final) {
      if (number.length < 16) error = 'incomplete_number';
      else if (exp.length < 4) error = 'incomplete_expiry';
      else if (cvc.length < 3) error = 'incomplete_cvc';
      else if (!hidePostalCode && postal === '') error = 'incomplete_zip';
    }
    const complete = number.length === 16 && exp.length === 4 && cvc.length === 3 &&
      (hidePostalCode || postal !== '') && error === null;
    return {
      number, month, year, cvc, postal, complete,
      empty: number === '' && exp === '' && cvc === '' && postal === '',
      brand: brandOf(number),
      error: error && validationError(error),
    };
  }

  // ---------------------------------------------------------------- the card Element

  const FIELDS = [
    // key, input name (as in Stripe's iframe), placeholder, max length, autocomplete
    ['number', 'cardnumber', 'Card number', 19, 'cc-number'],
    ['exp', 'exp-date', 'MM / YY', 7, 'cc-exp'],
    ['cvc', 'cvc', 'CVC', 4, 'cc-csc'],
    ['postal', 'postal', 'ZIP', 10, 'postal-code'],
  ];

  class CardElement {
    constructor(group, options) {
      this._group = group;
      this._options = { ...(options || {}) };
      this._listeners = {};
      this._root = null;
      this._fields = null;
      this._destroyed = false;
    }

    mount(target) {
      if (this._destroyed) {
        throw new Error('This Element has already been destroyed. Please create a new one.');
      }
      const node = typeof target === 'string' ? document.querySelector(target) : target;
      if (!(node instanceof window.Element)) {
        throw new Error('Invalid DOM element. Make sure to call mount() with a valid DOM ' +
          'element or selector.');
      }
      if (this._root) {
        if (this._root.parentElement === node) return;
        throw new Error('This Element is already mounted. Use `unmount()` to unmount the ' +
          'Element before re-mounting.');
      }
      const root = document.createElement('div');
      root.className = 'StripeElement StripeElement--empty';
      root.dataset.emulatedStripe = 'card';
      Object.assign(root.style, { display: 'flex', gap: '0.5em', alignItems: 'center' });
      this._fields = {};
      for (const [key, name, placeholder, maxLength, autocomplete] of FIELDS) {
        const input = document.createElement('input');
        input.type = 'text';
        input.name = name;
        input.placeholder = placeholder;
        input.maxLength = maxLength;
        input.autocomplete = autocomplete;
        input.inputMode = key === 'postal' ? 'text' : 'numeric';
        input.setAttribute('aria-label', placeholder);
        input.size = key === 'number' ? 19 : key === 'postal' ? 6 : 5;
        Object.assign(input.style, {
          border: 'none', outline: 'none', background: 'transparent', font: 'inherit',
          color: 'inherit', minWidth: '0', flex: key === 'number' ? '3 1 0' : '1 1 0',
        });
        input.addEventListener('input', () => this._changed(key));
        input.addEventListener('focus', () => this._focusChanged());
        input.addEventListener('blur', () => this._focusChanged());
        input.addEventListener('keydown', (e) => {
          if (e.key === 'Escape') this._emit('escape', { elementType: 'card' });
        });
        this._fields[key] = input;
        root.appendChild(input);
      }
      node.appendChild(root);
      this._root = root;
      this._applyOptions();
      // After the caller has had the chance to attach listeners, as Stripe's iframe loads.
      setTimeout(() => this._root && this._emit('ready', { elementType: 'card' }), 0);
    }

    unmount() {
      if (this._root) this._root.remove();
      this._root = null;
      this._fields = null;
    }

    destroy() {
      this.unmount();
      this._destroyed = true;
      this._listeners = {};
      this._group._forget(this);
    }

    on(event, handler) {
      (this._listeners[event] = this._listeners[event] || []).push(handler);
      return this;
    }

    off(event, handler) {
      if (!handler) delete this._listeners[event];
      else this._listeners[event] = (this._listeners[event] || []).filter((h) => h !== handler && h._original !== handler);
      return this;
    }

    once(event, handler) {
      const wrapper = (e) => {
        this.off(event, wrapper);
        handler(e);
      };
      wrapper._original = handler;
      return this.on(event, wrapper);
    }

    update(options) {
      Object.assign(this._options, options || {});
      this._applyOptions();
    }

    focus() {
      if (this._fields) this._fields.number.focus();
    }

    blur() {
      const active = document.activeElement;
      if (this._root && active && this._root.contains(active)) active.blur();
    }

    clear() {
      if (!this._fields) return;
      for (const input of Object.values(this._fields)) input.value = '';
      this._changed(null);
    }

    // What createPaymentMethod sends: the card, or a validation error (as Stripe reports one
    // for an incomplete card on submit).
    _cardForApi() {
      if (!this._fields) {
        return { error: { type: 'validation_error', code: 'element_not_mounted',
          message: 'The card Element is not mounted.' } };
      }
      const card = readCard(this._fields, this._options.hidePostalCode, true);
      if (card.error) return { error: card.error };
      return {
        card: { number: card.number, exp_month: card.month, exp_year: card.year, cvc: card.cvc },
        postal: card.postal,
      };
    }

    _applyOptions() {
      if (!this._fields) return;
      const disabled = Boolean(this._options.disabled);
      for (const input of Object.values(this._fields)) input.disabled = disabled;
      this._fields.postal.style.display = this._options.hidePostalCode ? 'none' : '';
      const postalCode = this._options.value && this._options.value.postalCode;
      if (postalCode !== undefined && this._fields.postal.value === '') {
        this._fields.postal.value = postalCode;
      }
    }

    _changed(key) {
      const f = this._fields;
      if (key === 'exp') {
        // "MMYY" typed becomes "MM / YY", as Stripe formats it.
        const d = digits(f.exp.value).slice(0, 4);
        f.exp.value = d.length > 2 ? d.slice(0, 2) + ' / ' + d.slice(2) : d;
      } else if (key === 'number') {
        f.number.value = digits(f.number.value).slice(0, 16).replace(/(\d{4})(?=\d)/g, '$1 ');
      } else if (key === 'cvc') {
        f.cvc.value = digits(f.cvc.value).slice(0, 3);
      }
      const card = readCard(f, this._options.hidePostalCode, false);
      this._root.classList.toggle('StripeElement--empty', card.empty);
      this._root.classList.toggle('StripeElement--complete', card.complete);
      this._root.classList.toggle('StripeElement--invalid', Boolean(card.error));
      this._emit('change', {
        elementType: 'card',
        empty: card.empty,
        complete: card.complete,
        error: card.error || undefined,
        brand: card.brand,
        value: { postalCode: card.postal },
      });
    }

    _focusChanged() {
      // Focus moving between our own inputs is not a focus change of the Element.
      setTimeout(() => {
        const inside = Boolean(this._root && this._root.contains(document.activeElement));
        if (inside === this._focused) return;
        this._focused = inside;
        if (this._root) this._root.classList.toggle('StripeElement--focus', inside);
        this._emit(inside ? 'focus' : 'blur', { elementType: 'card' });
      }, 0);
    }

    _emit(event, payload) {
      for (const handler of (this._listeners[event] || []).slice()) {
        try {
          handler(payload);
        } catch (err) {
          setTimeout(() => { throw err; }, 0);
        }
      }
    }
  }

  class Elements {
    constructor(options) {
      this._options = { ...(options || {}) };
      this._card = null;
    }

    create(type, options) {
      if (type !== 'card') {
        throw new Error('The emulated Stripe.js has the card Element only, not "' + type + '".');
      }
      if (this._card) {
        throw new Error('Can only create one Element of type card.');
      }
      this._card = new CardElement(this, options);
      return this._card;
    }

    // By type name, or by react-stripe-js's component (which carries `__elementType`).
    getElement(type) {
      const name = typeof type === 'string' ? type : type && type.__elementType;
      return name === 'card' ? this._card : null;
    }

    update(options) {
      Object.assign(this._options, options || {});
    }

    _forget(element) {
      if (this._card === element) this._card = null;
    }
  }

  // ---------------------------------------------------------------- Stripe()

  function idFromSecret(clientSecret, prefix) {
    const match = typeof clientSecret === 'string' &&
      clientSecret.match(new RegExp('^(' + prefix + '_[A-Za-z0-9]+)_secret_'));
    if (!match) {
      throw new Error('Invalid value for clientSecret: it should be a client secret of the ' +
        'form ' + prefix + '_..._secret_....');
    }
    return match[1];
  }

  function Stripe(key) {
    if (typeof key !== 'string' || !key.startsWith('pk_')) {
      throw new Error('Invalid API key: the emulated Stripe.js needs a publishable key (pk_...).');
    }

    async function createPaymentMethod(params, legacyElement, legacyData) {
      // Also the older signature createPaymentMethod('card', element, data).
      if (typeof params === 'string') {
        params = { type: params, card: legacyElement, ...(legacyData || {}) };
      }
      if (!params || params.type !== 'card') {
        return { error: { type: 'invalid_request_error',
          message: 'The emulated Stripe.js creates card PaymentMethods only.' } };
      }
      if (!(params.card instanceof CardElement)) {
        return { error: { type: 'invalid_request_error',
          message: 'Pass the card Element as `card`.' } };
      }
      const read = params.card._cardForApi();
      if (read.error) return { error: read.error };
      const billing = { ...(params.billing_details || {}) };
      if (read.postal) {
        billing.address = { ...(billing.address || {}) };
        billing.address.postal_code = billing.address.postal_code || read.postal;
      }
      try {
        const result = await post('/v1/payment_methods', {
          key, type: 'card', card: read.card, billing_details: billing,
          metadata: params.metadata,
        });
        return result.error ? result : { paymentMethod: result.body };
      } catch (err) {
        return networkError(err);
      }
    }

    // A payment_method given as an id, as {card: Element, billing_details}, or absent.
    async function paymentMethodId(given) {
      if (given === undefined || given === null) return { id: null };
      if (typeof given === 'string') return { id: given };
      const created = await createPaymentMethod({ type: 'card', ...given });
      return created.error ? created : { id: created.paymentMethod.id };
    }

    async function retrieveIntent(clientSecret) {
      const pi = idFromSecret(clientSecret, 'pi');
      return get('/v1/payment_intents/' + pi, { key, client_secret: clientSecret });
    }

    // The PaymentIntent requires 3-D Secure: ask, then tell the emulator the outcome.
    async function authenticateIntent(intent, clientSecret) {
      const success = await authenticate();
      const result = await post('/v1/payment_intents/' + intent.id +
        '/_authenticate?success=' + success, { key, client_secret: clientSecret });
      if (result.error) return result;
      const after = result.body;
      if (after.status === 'requires_payment_method') {
        return { error: {
          type: 'card_error', code: 'payment_intent_authentication_failure',
          message: 'We are unable to authenticate your payment method. Please choose a ' +
            'different payment method and try again.',
          payment_intent: after,
        } };
      }
      return { paymentIntent: after };
    }

    // What Stripe.js does with a PaymentIntent after confirming it.
    async function settleIntent(intent, clientSecret, handleActions) {
      if (intent.status === 'requires_action' && handleActions) {
        return authenticateIntent(intent, clientSecret);
      }
      if (intent.status === 'requires_payment_method' && intent.last_payment_error) {
        return { error: { ...intent.last_payment_error, payment_intent: intent } };
      }
      return { paymentIntent: intent };
    }

    async function confirmCardPayment(clientSecret, data, options) {
      const handleActions = !options || options.handleActions !== false;
      try {
        const pi = idFromSecret(clientSecret, 'pi');
        const pm = await paymentMethodId(data && data.payment_method);
        if (pm.error) return pm;
        let intent;
        if (pm.id === null) {
          // Nothing new to confirm with: continue the PaymentIntent where it stands (3-D Secure
          // after a server-side confirmation, or a confirmation with its own payment method).
          const current = await retrieveIntent(clientSecret);
          if (current.error) return current;
          intent = current.body;
          if (intent.status === 'requires_confirmation') {
            const confirmed = await post('/v1/payment_intents/' + pi + '/confirm',
              { key, client_secret: clientSecret });
            if (confirmed.error) return await withIntent(confirmed, clientSecret);
            intent = confirmed.body;
          } else if (intent.status === 'requires_payment_method') {
            return { error: { type: 'invalid_request_error',
              code: 'payment_intent_unexpected_state',
              message: 'A payment method is required to confirm this PaymentIntent.',
              payment_intent: intent } };
          }
        } else {
          const confirmed = await post('/v1/payment_intents/' + pi + '/confirm',
            { key, client_secret: clientSecret, payment_method: pm.id });
          if (confirmed.error) return await withIntent(confirmed, clientSecret);
          intent = confirmed.body;
        }
        return await settleIntent(intent, clientSecret, handleActions);
      } catch (err) {
        return networkError(err);
      }
    }

    // Stripe's card errors name the PaymentIntent they leave behind.
    async function withIntent(failed, clientSecret) {
      const current = await retrieveIntent(clientSecret).catch(() => ({}));
      if (current.body) failed.error.payment_intent = current.body;
      return failed;
    }

    async function handleCardAction(clientSecret) {
      try {
        const current = await retrieveIntent(clientSecret);
        if (current.error) return current;
        if (current.body.status !== 'requires_action') {
          return { error: { type: 'invalid_request_error',
            code: 'payment_intent_unexpected_state',
            message: 'The PaymentIntent does not require an action (its status is ' +
              current.body.status + ').', payment_intent: current.body } };
        }
        return await authenticateIntent(current.body, clientSecret);
      } catch (err) {
        return networkError(err);
      }
    }

    async function confirmCardSetup(clientSecret, data) {
      try {
        const seti = idFromSecret(clientSecret, 'seti');
        const pm = await paymentMethodId(data && data.payment_method);
        if (pm.error) return pm;
        const body = { key, client_secret: clientSecret };
        if (pm.id !== null) body.payment_method = pm.id;
        let result = await post('/v1/setup_intents/' + seti + '/confirm', body);
        if (result.error) return result;
        if (result.body.status === 'requires_action') {
          const success = await authenticate();
          result = await post('/v1/setup_intents/' + seti + (success ? '/confirm' : '/cancel'),
            { key, client_secret: clientSecret });
          if (result.error) return result;
          if (!success) {
            return { error: { type: 'card_error', code: 'setup_intent_authentication_failure',
              message: 'We are unable to authenticate your payment method. Please choose a ' +
                'different payment method and try again.', setup_intent: result.body } };
          }
        }
        if (result.body.status !== 'succeeded') {
          return { error: { type: 'invalid_request_error',
            message: 'The SetupIntent has status ' + result.body.status + '.',
            setup_intent: result.body } };
        }
        return { setupIntent: result.body };
      } catch (err) {
        return networkError(err);
      }
    }

    async function retrievePaymentIntent(clientSecret) {
      try {
        const result = await retrieveIntent(clientSecret);
        return result.error ? result : { paymentIntent: result.body };
      } catch (err) {
        return networkError(err);
      }
    }

    // Card tokens (the older API), as localstripe's script made them.
    async function createToken(element) {
      if (!(element instanceof CardElement)) {
        return { error: { type: 'invalid_request_error', message: 'Pass the card Element.' } };
      }
      const read = element._cardForApi();
      if (read.error) return { error: read.error };
      const form = new URLSearchParams({ key, payment_user_agent: 'tollgate-emulator' });
      for (const [field, value] of Object.entries(read.card)) form.append('card[' + field + ']', String(value));
      try {
        const result = await answer(await fetch(BASE + '/v1/tokens', { method: 'POST', body: form }));
        return result.error ? result : { token: result.body };
      } catch (err) {
        return networkError(err);
      }
    }

    return {
      elements: (options) => new Elements(options),
      createPaymentMethod,
      createToken,
      confirmCardPayment,
      confirmCardSetup,
      handleCardAction,
      handleNextAction: ({ clientSecret }) => handleCardAction(clientSecret),
      retrievePaymentIntent,
    };
  }

  window.Stripe = Stripe;
  console.info('Stripe.js (emulated by Tollgate\'s Stripe emulator at ' + BASE + ')');
})();
