import { createHash } from 'node:crypto';

/**
 * The HTML of the built-in identity provider: plain server-rendered pages, no scripts, no external
 * assets. Every page's <main> carries `data-page` so tests (and curious humans) can tell which step
 * of the flow they are on without matching prose.
 */

export type PageName = 'device-input' | 'device-confirm' | 'device-success' | 'login' | 'error';

export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const CSS = `
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#f6f8fa;--card:#fff;--border:#d1d9e0;--accent:#1f6feb;--danger:#cf222e;--ok:#1a7f37}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--card:#151b23;--border:#3d444d;--accent:#4493f8;--danger:#f85149;--ok:#3fb950}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:min(400px,calc(100vw - 32px));background:var(--card);border:1px solid var(--border);border-radius:12px;padding:28px;margin:24px 0}
.brand{margin:0 0 16px;font-size:13px;font-weight:700;letter-spacing:.08em;text-transform:uppercase;color:var(--muted)}
h1{margin:0 0 8px;font-size:22px;line-height:1.3}
p{margin:0 0 16px;color:var(--muted)}
form{margin:0}
label{display:block;margin:14px 0 4px;font-size:14px;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:10px 12px;font:inherit;color:inherit;background:transparent;border:1px solid var(--border);border-radius:8px}
input:focus{outline:2px solid var(--accent);outline-offset:1px}
input[name=user_code]{margin-top:4px;text-align:center;text-transform:uppercase;letter-spacing:.2em;font:600 22px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
input[name=user_code]::placeholder{text-transform:none;letter-spacing:normal;font:16px system-ui,sans-serif}
button{display:block;width:100%;margin-top:18px;padding:10px 12px;font:inherit;font-weight:600;color:#fff;background:var(--accent);border:1px solid var(--accent);border-radius:8px;cursor:pointer}
a{color:var(--accent)}
button.secondary{margin-top:8px;color:var(--fg);background:transparent;border-color:var(--border)}
.code{margin:0 0 16px;padding:12px;text-align:center;font:600 28px/1.2 ui-monospace,SFMono-Regular,Menlo,monospace;letter-spacing:.15em;border:1px dashed var(--border);border-radius:8px}
.meta{font-size:13px}
.alert{color:var(--danger);font-weight:600}
.done{color:var(--ok)}
`;

/**
 * Pages allow exactly their own stylesheet (by hash) and posting forms back to this origin;
 * nothing else loads or runs. Framing is refused so the confirmation page cannot be clickjacked.
 */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': [
    "default-src 'none'",
    `style-src '${'sha256-' + createHash('sha256').update(CSS).digest('base64')}'`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; '),
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

function layout(page: PageName, title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · hoop</title>
<style>${CSS}</style>
</head>
<body>
<main data-page="${page}">
<p class="brand">hoop</p>
${body}
</main>
</body>
</html>
`;
}

function alert(message: string | undefined): string {
  return message ? `<p class="alert" role="alert">${escapeHtml(message)}</p>` : '';
}

/**
 * Where the user types the code from the terminal. `form` is oidc-provider's own form (it carries
 * the xsrf field and the user_code input); the button submits it through the `form` attribute.
 */
export function deviceInputPage(form: string, message: string | undefined): string {
  return layout('device-input', 'Connect a device', `<h1>Connect a device</h1>
<p>Enter the code shown in your terminal.</p>
${alert(message)}
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`);
}

/** Asks the user to compare codes before anything is granted, and offers to deny the request. */
export function deviceConfirmPage(opts: {
  form: string;
  clientName: string;
  userCode: string;
  requestedFrom: string | undefined;
}): string {
  const from = opts.requestedFrom ? `<p class="meta">Requested from ${escapeHtml(opts.requestedFrom)}.</p>` : '';
  return layout('device-confirm', 'Confirm sign-in', `<h1>Is this your terminal?</h1>
<p><strong>${escapeHtml(opts.clientName)}</strong> is asking to sign in to hoop as you. Continue only if your terminal shows this code:</p>
<p class="code">${escapeHtml(opts.userCode)}</p>
${from}
${opts.form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="secondary">Deny</button>`);
}

export function deviceSuccessPage(clientName: string): string {
  return layout('device-success', 'Signed in', `<h1 class="done">You are signed in</h1>
<p>${escapeHtml(clientName)} now has access. You can close this window and return to the terminal.</p>`);
}

export function loginPage(opts: {
  action: string;
  abortAction: string;
  xsrf: string;
  clientName: string;
  username?: string;
  error?: string;
}): string {
  const xsrf = `<input type="hidden" name="xsrf" value="${escapeHtml(opts.xsrf)}">`;
  return layout('login', 'Sign in', `<h1>Sign in</h1>
<p>to continue to <strong>${escapeHtml(opts.clientName)}</strong></p>
${alert(opts.error)}
<form method="post" action="${escapeHtml(opts.action)}" autocomplete="on">
${xsrf}
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${escapeHtml(opts.username ?? '')}" autocomplete="username" autocapitalize="none" spellcheck="false" required${opts.username ? '' : ' autofocus'}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required${opts.username ? ' autofocus' : ''}>
<button type="submit">Sign in</button>
</form>
<form method="post" action="${escapeHtml(opts.abortAction)}">
${xsrf}
<button type="submit" class="secondary">Cancel</button>
</form>`);
}

/** `restartUrl`: where the user can enter the code again, when that still makes sense. */
export function errorPage(error: string, description: string | undefined, restartUrl?: string): string {
  const restart = restartUrl
    ? `<p><a href="${escapeHtml(restartUrl)}">Enter the code again</a> or start the sign-in again from your terminal.</p>`
    : '<p>Start the sign-in again from your terminal.</p>';
  return layout('error', 'Something went wrong', `<h1>Something went wrong</h1>
${alert(description ?? error)}
${restart}
<p class="meta">Error code: <code>${escapeHtml(error)}</code></p>`);
}
