/**
 * Drives the built-in IdP's device pages over HTTP the way a person in a browser does: it loads
 * each page, reads the forms in the HTML, fills in what a person would type, presses a button and
 * follows redirects, keeping cookies in a jar with proper Path matching. Nothing here knows the
 * IdP's routes; everything it requests comes from a URL it was given or a form it read.
 */

export interface HtmlButton {
  readonly name?: string;
  readonly value: string;
  readonly text: string;
}

export interface HtmlForm {
  readonly id?: string;
  readonly method: 'GET' | 'POST';
  /** Absolute URL the form submits to. */
  readonly action: string;
  /** Fields a browser would send: named inputs (hidden, text, password, …) with their current values. */
  readonly fields: ReadonlyMap<string, string>;
  /** Submit buttons of this form: inside it, or elsewhere pointing at it with `form="id"`. */
  readonly buttons: readonly HtmlButton[];
}

export interface Page {
  readonly url: string;
  readonly status: number;
  readonly html: string;
  /** The IdP's `data-page` marker, if the page has one. */
  readonly name: string | undefined;
  /** Text of the page's role="alert" message, if any. */
  readonly alert: string | undefined;
  readonly forms: readonly HtmlForm[];
}

interface Cookie {
  readonly name: string;
  readonly value: string;
  readonly host: string;
  readonly path: string;
  readonly expires: number;
}

const MAX_REDIRECTS = 20;

/** One browser profile: a cookie jar shared by every page it opens. */
export class TestBrowser {
  readonly #cookies = new Map<string, Cookie>();
  /** Every URL requested, in order, for assertions and for debugging a failing flow. */
  readonly history: string[] = [];

  open(url: string): Promise<Page> {
    return this.#navigate('GET', url);
  }

  /**
   * Submits `form` as if the user filled `fill` into its inputs and pressed the button chosen by
   * `button` (default: the form's first submit button). Filling a field the form does not have is
   * an error: a person cannot type into an input that is not there.
   */
  submit(form: HtmlForm, opts: { fill?: Record<string, string>; button?: (b: HtmlButton) => boolean } = {}): Promise<Page> {
    const fields = new Map(form.fields);
    for (const [name, value] of Object.entries(opts.fill ?? {})) {
      if (!fields.has(name)) throw new Error(`form ${form.id ?? form.action} has no field "${name}"`);
      fields.set(name, value);
    }
    const button = opts.button ? form.buttons.find(opts.button) : form.buttons[0];
    if (!button) throw new Error(`form ${form.id ?? form.action} has no such button`);
    if (button.name) fields.set(button.name, button.value);
    const body = new URLSearchParams([...fields]);
    if (form.method === 'GET') {
      const url = new URL(form.action);
      url.search = body.toString();
      return this.#navigate('GET', url.href);
    }
    return this.#navigate('POST', form.action, body, new URL(form.action).origin);
  }

  async #navigate(method: string, url: string, body?: URLSearchParams, origin?: string): Promise<Page> {
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      this.history.push(`${method} ${url}`);
      const target = new URL(url);
      const headers: Record<string, string> = {
        accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
        'user-agent': 'hoop-test-browser/1.0',
      };
      const cookie = this.#cookieHeader(target);
      if (cookie) headers['cookie'] = cookie;
      if (body) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        if (origin) headers['origin'] = origin;
      }
      const response = await fetch(target, { method, headers, redirect: 'manual', ...(body ? { body: body.toString() } : {}) });
      for (const line of response.headers.getSetCookie()) this.#store(target, line);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        url = new URL(location, target).href;
        if (response.status !== 307 && response.status !== 308) {
          method = 'GET';
          body = undefined;
        }
        continue;
      }
      const page = parsePage(target.href, response.status, await response.text());
      // A page whose script submits its form on load (oidc-provider's form_post pages): a browser
      // with JavaScript submits it immediately, so do the same.
      const auto = page.forms[0];
      if (auto && /document\.forms\[0\]\.submit\(\)/.test(page.html)) {
        const fields = new URLSearchParams([...auto.fields]);
        return this.#navigate(auto.method, auto.action, auto.method === 'POST' ? fields : undefined, target.origin);
      }
      return page;
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects, last ${url}`);
  }

  #store(from: URL, header: string): void {
    const [pair = '', ...attributes] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    let path = defaultPath(from.pathname);
    let expires = Infinity;
    for (const attribute of attributes) {
      const [key = '', ...rest] = attribute.split('=');
      const attrValue = rest.join('=').trim();
      switch (key.trim().toLowerCase()) {
        case 'path':
          if (attrValue.startsWith('/')) path = attrValue;
          break;
        case 'max-age':
          expires = Date.now() + Number(attrValue) * 1000;
          break;
        case 'expires':
          // Max-Age wins over Expires when both are present.
          if (!attributes.some((a) => /^\s*max-age=/i.test(a))) expires = Date.parse(attrValue);
          break;
      }
    }
    const key = `${from.host} ${path} ${name}`;
    if (expires <= Date.now()) this.#cookies.delete(key);
    else this.#cookies.set(key, { name, value, host: from.host, path, expires });
  }

  #cookieHeader(url: URL): string {
    const now = Date.now();
    const matching = [...this.#cookies.values()]
      .filter((c) => c.host === url.host && c.expires > now && pathMatches(url.pathname, c.path))
      .sort((a, b) => b.path.length - a.path.length);
    return matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

/** RFC 6265 §5.1.4. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

function defaultPath(requestPath: string): string {
  const slash = requestPath.lastIndexOf('/');
  return slash <= 0 ? '/' : requestPath.slice(0, slash);
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (entity, code: string) => {
    const lower = code.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[lower] ?? entity;
  });
}

function attributesOf(tag: string): Map<string, string> {
  const attributes = new Map<string, string>();
  // The tag without its name: `<input type="x" name=y disabled>` → type, name, disabled.
  const inner = tag.replace(/^<\/?[\w-]+/, '').replace(/\/?>$/, '');
  for (const m of inner.matchAll(/([^\s"'=<>/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    const name = (m[1] ?? '').toLowerCase();
    if (!attributes.has(name)) attributes.set(name, decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attributes;
}

function textOf(html: string): string {
  return decodeEntities(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
}

export function parsePage(url: string, status: number, html: string): Page {
  const formMatches = [...html.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/gi)];
  const buttonMatches = [...html.matchAll(/<button\b[^>]*>[\s\S]*?<\/button>/gi)];
  const forms = formMatches.map((match): HtmlForm => {
    const formHtml = match[0];
    const start = match.index;
    const end = start + formHtml.length;
    const formTag = /^<form\b[^>]*>/i.exec(formHtml)?.[0] ?? '';
    const attrs = attributesOf(formTag);
    const id = attrs.get('id');
    const fields = new Map<string, string>();
    for (const [tag] of formHtml.matchAll(/<input\b[^>]*>/gi)) {
      const input = attributesOf(tag);
      const name = input.get('name');
      const type = (input.get('type') ?? 'text').toLowerCase();
      if (!name || input.has('disabled') || ['submit', 'button', 'image', 'reset', 'file'].includes(type)) continue;
      if ((type === 'checkbox' || type === 'radio') && !input.has('checked')) continue;
      fields.set(name, input.get('value') ?? (type === 'checkbox' ? 'on' : ''));
    }
    const buttons: HtmlButton[] = [];
    for (const b of buttonMatches) {
      const battrs = attributesOf(/^<button\b[^>]*>/i.exec(b[0])?.[0] ?? '');
      const type = (battrs.get('type') ?? 'submit').toLowerCase();
      if (type !== 'submit') continue;
      const owner = battrs.get('form');
      const inside = b.index >= start && b.index < end;
      if (owner !== undefined ? owner !== id : !inside) continue;
      const name = battrs.get('name');
      buttons.push({ ...(name ? { name } : {}), value: battrs.get('value') ?? '', text: textOf(b[0]) });
    }
    const method = (attrs.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET';
    return {
      ...(id !== undefined ? { id } : {}),
      method,
      action: new URL(attrs.get('action') || url, url).href,
      fields,
      buttons,
    };
  });
  const name = /<main\b[^>]*\bdata-page="([^"]*)"/i.exec(html)?.[1];
  const alertHtml = /<[a-z]+\b[^>]*\brole="alert"[^>]*>([\s\S]*?)<\/[a-z]+>/i.exec(html)?.[1];
  return { url, status, html, name, alert: alertHtml === undefined ? undefined : textOf(alertHtml), forms };
}

export interface ApproveOptions {
  /** Press Deny on the confirmation page instead of Continue. */
  readonly deny?: boolean;
  /** Passwords to type (each rejected, re-showing the login page) before the right one. */
  readonly wrongPasswords?: readonly string[];
  /** Called with the login page's error message after each wrong password, before the next attempt. */
  readonly onLoginError?: (message: string) => void | Promise<void>;
  /** Reuse a browser (its cookies, i.e. its IdP session); default: a fresh one. */
  readonly browser?: TestBrowser;
}

function expectPage(page: Page, name: string, step: string): void {
  if (page.name !== name) {
    const why = page.alert ? `: ${page.alert}` : '';
    throw new Error(`${step}: expected the ${name} page, got ${page.name ?? 'an unknown page'} (HTTP ${page.status} ${page.url})${why}`);
  }
}

function formById(page: Page, id: string): HtmlForm {
  const form = page.forms.find((f) => f.id === id);
  if (!form) throw new Error(`no form #${id} on ${page.url}`);
  return form;
}

function formWithField(page: Page, field: string): HtmlForm {
  const form = page.forms.find((f) => f.fields.has(field));
  if (!form) throw new Error(`no form with a "${field}" field on ${page.url}`);
  return form;
}

/** Opens the link the CLI prints (code already in it), confirms, signs in. */
export async function approveDevice(
  verificationUriComplete: string,
  username: string,
  password: string,
  opts: ApproveOptions = {},
): Promise<void> {
  const browser = opts.browser ?? new TestBrowser();
  const page = await browser.open(verificationUriComplete);
  await fromConfirmation(browser, page, username, password, opts);
}

/** Opens the plain verification URI and types the user code into the page's input. */
export async function approveDeviceWithCode(
  verificationUri: string,
  userCode: string,
  username: string,
  password: string,
  opts: ApproveOptions = {},
): Promise<void> {
  const browser = opts.browser ?? new TestBrowser();
  const input = await browser.open(verificationUri);
  expectPage(input, 'device-input', 'opening the verification page');
  const page = await browser.submit(formWithField(input, 'user_code'), { fill: { user_code: userCode } });
  await fromConfirmation(browser, page, username, password, opts);
}

async function fromConfirmation(browser: TestBrowser, confirm: Page, username: string, password: string, opts: ApproveOptions): Promise<void> {
  expectPage(confirm, 'device-confirm', 'entering the code');
  const form = formById(confirm, 'op.deviceConfirmForm');
  if (opts.deny) {
    const denied = await browser.submit(form, { button: (b) => /deny/i.test(b.text) });
    expectPage(denied, 'device-input', 'denying');
    if (!/cancelled/i.test(denied.alert ?? '')) throw new Error(`denying: expected a cancellation message, got ${denied.alert}`);
    return;
  }
  let page = await browser.submit(form, { button: (b) => /continue/i.test(b.text) });
  expectPage(page, 'login', 'confirming the code');
  for (const wrong of opts.wrongPasswords ?? []) {
    page = await signIn(browser, page, username, wrong);
    expectPage(page, 'login', 'signing in with a wrong password');
    if (!page.alert) throw new Error('signing in with a wrong password: the login page shows no error');
    await opts.onLoginError?.(page.alert);
  }
  page = await signIn(browser, page, username, password);
  if (page.name === 'login') throw new Error(`signing in: rejected: ${page.alert ?? '(no message)'}`);
  expectPage(page, 'device-success', 'signing in');
}

function signIn(browser: TestBrowser, login: Page, username: string, password: string): Promise<Page> {
  return browser.submit(formWithField(login, 'password'), {
    fill: { username, password },
    button: (b) => /sign in/i.test(b.text),
  });
}
