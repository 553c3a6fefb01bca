// WhatsApp Embedded Signup: Meta's SDK opens the signup popup; the popup
// reports the WABA and phone number ids in a WA_EMBEDDED_SIGNUP message
// from a facebook.com origin, FB.login's callback gets the code, and the
// service exchanges the code (POST /api/whatsapp/signup). Only shown when
// META_APP_ID and META_SIGNUP_CONFIG_ID are set.

import config from './config.js';
import { call, describe } from './api.js';
import { h } from './dom.js';

const SDK = 'https://connect.facebook.net/en_US/sdk.js';
const facebookOrigin = /^https:\/\/([a-z0-9-]+\.)*facebook\.com$/;

let sdk = null;
function loadSDK() {
  if (window.FB) return Promise.resolve(window.FB);
  if (sdk) return sdk;
  sdk = new Promise((resolve, reject) => {
    window.fbAsyncInit = () => {
      window.FB.init({ appId: config.metaAppId, autoLogAppEvents: true, xfbml: false, version: config.graphVersion });
      resolve(window.FB);
    };
    const s = document.createElement('script');
    s.src = SDK;
    s.async = true;
    s.crossOrigin = 'anonymous';
    s.onerror = () => { sdk = null; reject(new Error('Meta’s SDK could not be loaded.')); };
    document.head.append(s);
  });
  return sdk;
}

/** signupButton returns the Embedded Signup card, or null when it is not configured. */
export function signupButton({ tenantId, onDone, message }) {
  if (!config.signup) return null;
  const button = h('button', { type: 'button', class: 'secondary' }, 'Embedded Signup');
  button.addEventListener('click', async () => {
    button.disabled = true;
    message.say('Opening Meta’s Embedded Signup…');
    let session = null;
    let waiting = null;
    const onMessage = (ev) => {
      if (!facebookOrigin.test(ev.origin)) return;
      let data = ev.data;
      if (typeof data === 'string') { try { data = JSON.parse(data); } catch { return; } }
      if (data?.type !== 'WA_EMBEDDED_SIGNUP') return;
      if (String(data.event).startsWith('FINISH')) session = data.data || {};
      else if (data.event === 'CANCEL') session = { cancelled: true, step: data.data?.current_step };
      waiting?.();
    };
    window.addEventListener('message', onMessage);
    const finish = () => { window.removeEventListener('message', onMessage); button.disabled = false; };
    try {
      const FB = await loadSDK();
      FB.login(async (response) => {
        try {
          const code = response?.authResponse?.code;
          if (!code) { message.say('Embedded Signup was cancelled.', 'error'); return; }
          // The session message may come just after the callback.
          if (!session) await new Promise((r) => { waiting = r; setTimeout(r, 5000); });
          if (!session || session.cancelled || !session.waba_id) {
            message.say('Meta did not report a WhatsApp Business Account: signup was not finished.', 'error');
            return;
          }
          const body = { tenantId, code, wabaId: session.waba_id };
          if (session.phone_number_id) body.phoneNumberId = session.phone_number_id;
          if (session.business_id) body.businessId = session.business_id;
          message.say('Linking the number Meta reported…');
          await call('POST', '/api/whatsapp/signup', { body, headers: { 'Idempotency-Key': crypto.randomUUID() } });
          message.say('Embedded Signup finished: the number is linked.', 'ok');
          onDone();
        } catch (err) {
          message.say(`Embedded Signup failed: ${describe(err)}`, 'error');
        } finally {
          finish();
        }
      }, {
        config_id: config.signupConfigId,
        response_type: 'code',
        override_default_response_type: true,
        extras: { setup: {}, featureType: '', sessionInfoVersion: '3' },
      });
    } catch (err) {
      message.say(`Embedded Signup failed: ${describe(err)}`, 'error');
      finish();
    }
  });
  return h('div', { class: 'card' },
    h('h3', {}, 'Sign up with Meta'),
    h('p', { class: 'muted' }, 'Let the customer connect their WhatsApp Business Account in Meta’s own window; the number it reports is linked here.'),
    button);
}
