// The try-it console of an API's page: it gets a short-lived access token
// for one of the developer's keys from the store (no secret is asked for),
// then sends real requests through the gateway, a second origin, and shows
// the answers. A 403 with the gateway's fault 900910 names the scope the
// token lacks.
(() => {
  const form = document.getElementById('console');
  if (!form) return;
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? '';
  const status = document.getElementById('console-token');
  const appSelect = document.getElementById('console-app');
  const typeSelect = document.getElementById('console-type');
  const CODE_INSUFFICIENT_SCOPE = 900910;
  let token = null;

  // The key types offered follow the application chosen.
  appSelect.addEventListener('change', () => {
    const option = appSelect.selectedOptions[0];
    typeSelect.replaceChildren();
    for (const pair of (option.dataset.keyTypes || '').split(' ').filter(Boolean)) {
      const [value, label] = pair.split('=');
      typeSelect.append(new Option(label, value));
    }
  });

  const sendButtons = () => document.querySelectorAll('form.console-op button[type=submit]');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.textContent = 'Getting a token…';
    try {
      const resp = await fetch(form.dataset.tokenUrl, {
        method: 'POST',
        credentials: 'same-origin',
        redirect: 'manual', // a session that ended is sent to the log-in page
        headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(new FormData(form)),
      });
      const answer = await resp.json().catch(() => ({}));
      if (!resp.ok || !answer.access_token) {
        token = null;
        for (const button of sendButtons()) button.disabled = true;
        status.textContent = resp.type === 'opaqueredirect'
          ? 'No token: your session has ended. Reload the page and log in again.'
          : answer.error || `No token: the store answered ${resp.status}. Reload the page and try again.`;
        return;
      }
      token = answer.access_token;
      const scopes = answer.scope ? answer.scope.split(' ').join(', ') : 'none';
      status.textContent = `Token for ${answer.app} (${answer.key_type.toLowerCase()} key), scopes ${scopes}; ` +
        `it expires in ${answer.expires_in} seconds.`;
      for (const button of sendButtons()) button.disabled = false;
    } catch (err) {
      status.textContent = `No token: ${err.message}`;
    }
  });

  // scopeOf reads the scope a refusal names: the challenge's scope="…"
  // (RFC 6750 §3), else the one the page knows the operation needs.
  const scopeOf = (resp, op) => {
    const match = /scope="([^"]*)"/.exec(resp.headers.get('WWW-Authenticate') || '');
    return match ? match[1] : op.dataset.scope;
  };

  for (const op of document.querySelectorAll('form.console-op')) {
    op.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (!token) return;
      const result = op.querySelector('.console-result');
      const statusLine = op.querySelector('.console-status');
      const hint = op.querySelector('.console-hint');
      const headers = op.querySelector('.console-headers');
      const body = op.querySelector('.console-body');
      result.hidden = false;
      hint.hidden = true;
      headers.textContent = body.textContent = '';
      statusLine.textContent = 'Sending…';
      let path = op.dataset.path;
      for (const input of op.querySelectorAll('input[data-param]')) {
        path = path.replace(`{${input.dataset.param}}`, encodeURIComponent(input.value));
      }
      const init = { method: op.dataset.method, mode: 'cors', credentials: 'omit', headers: { Authorization: `Bearer ${token}` } };
      const textarea = op.querySelector('textarea[name=body]');
      if (textarea) {
        init.headers['Content-Type'] = 'application/json';
        init.body = textarea.value;
      }
      try {
        const resp = await fetch(form.dataset.gateway + path, init);
        const text = await resp.text();
        statusLine.textContent = `${resp.status} ${resp.statusText}`.trim();
        headers.textContent = [...resp.headers].map(([name, value]) => `${name}: ${value}`).join('\n');
        let parsed = null;
        try {
          parsed = JSON.parse(text);
          body.textContent = JSON.stringify(parsed, null, 2);
        } catch {
          body.textContent = text;
        }
        if (resp.status === 403 && parsed?.fault?.code === CODE_INSUFFICIENT_SCOPE) {
          hint.textContent = `The token lacks the scope ${scopeOf(resp, op)}: tick it under Scopes, Get token again, and send again.`;
          hint.hidden = false;
        } else if (resp.status === 401) {
          hint.textContent = 'The token is no longer valid (it lives a few minutes): Get token again.';
          hint.hidden = false;
        }
      } catch (err) {
        statusLine.textContent = `No answer: ${err.message}. The gateway may be unreachable from this browser, or its CORS settings refuse this page.`;
      }
    });
  }
})();
