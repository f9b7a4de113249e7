// cohort dashboard: plain JavaScript, no framework, no build step.
// Every text from the server goes into text nodes (never innerHTML): model
// names and completions are written by clients and models.
'use strict';

const main = document.getElementById('main');
let events = null;      // the EventSource of the page shown
let reloadTimer = null;  // debounces reloads driven by events
let pollTimer = null;    // the campaigns list's periodic reload

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'onclick') el.addEventListener('click', v);
    else if (k === 'onchange') el.addEventListener('change', v);
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function show(...nodes) {
  main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined));
}

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  const r = await fetch(path, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
  let body = {};
  try { body = await r.json(); } catch (e) { body = {error: r.statusText}; }
  if (!r.ok) throw new HttpError(r.status, body.error || r.statusText);
  return body;
}

const enc = encodeURIComponent;
const pct = (x) => (100 * x).toFixed(1) + '%';
const signed = (x) => (x > 0 ? '+' : '') + x.toFixed(1);

function when(us) {
  if (!us) return '';
  return new Date(us / 1000).toISOString().replace('T', ' ').slice(0, 19) + 'Z';
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const s = Math.round(seconds);
  if (s < 90) return s + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  if (s < 172800) return (s / 3600).toFixed(1) + ' h';
  return (s / 86400).toFixed(1) + ' d';
}

function stateSpan(state) {
  return h('span', {class: 'state-' + state}, state);
}

function progressBar(done, total) {
  const frac = total > 0 ? Math.min(1, done / total) : 0;
  const bar = h('span', {class: 'bar'}, h('span'));
  bar.firstChild.style.width = (100 * frac).toFixed(1) + '%';
  return h('span', {}, bar, `${done}/${total}`);
}

function progressText(p) {
  if (!p) return '';
  const parts = [];
  if (p.total > 0) parts.push(`${p.done}/${p.total} ${p.unit}`);
  if (p.passed > 0) parts.push(`${p.passed} passed`);
  if (p.gpus && p.gpus.length) parts.push('gpu ' + p.gpus.join(','));
  if (p.message) parts.push(p.message);
  return parts.join(' · ');
}

// A campaign's pages reload (at most every 1.5 s) when its events say it
// changed; the campaigns list, whose events only an admin may stream, is
// read again every 5 s.
function follow(campaign) {
  stopFollowing();
  if (!campaign) {
    pollTimer = setInterval(() => route(true), 5000);
    return;
  }
  events = new EventSource('/api/events?campaign=' + enc(campaign));
  events.onmessage = () => {
    if (reloadTimer) return;
    reloadTimer = setTimeout(() => { reloadTimer = null; route(true); }, 1500);
  };
}

function stopFollowing() {
  if (events) { events.close(); events = null; }
  if (reloadTimer) { clearTimeout(reloadTimer); reloadTimer = null; }
  if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
}

function tabs(id, on) {
  const t = (name, href) => h('a', {href, class: on === name ? 'on' : null}, name);
  return h('div', {class: 'tabs'},
      t('steps', `#/c/${enc(id)}`), t('scoreboard', `#/c/${enc(id)}/scoreboard`),
      t('lengths', `#/c/${enc(id)}/lengths`), t('compare', `#/c/${enc(id)}/compare`));
}

// --- pages -------------------------------------------------------------

async function campaignsPage() {
  const data = await api('/api/campaigns');
  const rows = data.campaigns.map((c) => h('tr', {},
      h('td', {}, h('a', {href: `#/c/${enc(c.id)}`}, c.name || c.id)),
      h('td', {}, stateSpan(c.state)),
      h('td', {}, progressBar(c.done, c.total)),
      h('td', {class: 'pills'}, Object.entries(c.steps).map(([s, n]) =>
          h('span', {class: 'state-' + s}, `${s} ${n}`))),
      h('td', {class: 'num'}, c.workers),
      h('td', {}, c.eta_seconds === null ? '' : duration(c.eta_seconds)),
      h('td', {class: 'muted'}, when(c.created_us))));
  show(h('h1', {}, 'Campaigns'),
      rows.length === 0 ? h('p', {class: 'muted'}, 'No campaigns yet: cohort submit SPEC') :
      h('table', {id: 'campaigns'},
          h('tr', {}, ['campaign', 'state', 'progress', 'steps', 'workers', 'ETA', 'submitted']
              .map((x) => h('th', {}, x))),
          rows));
}

async function campaignPage(id) {
  const c = await api(`/api/campaigns/${enc(id)}`);
  const grid = h('table', {id: 'grid'},
      h('tr', {}, h('th', {}, 'model'), c.stages.map((s) => h('th', {}, s))),
      c.grid.map((row) => h('tr', {},
          h('td', {}, row.model || h('span', {class: 'muted'}, '(other)')),
          c.stages.map((stage) => {
            const states = row.stages[stage] || {};
            return h('td', {class: 'pills'}, Object.entries(states).map(([s, n]) =>
                h('span', {class: 'state-' + s, title: s}, n > 1 ? `${s} ${n}` : s)));
          }))));
  const running = h('table', {id: 'running'},
      h('tr', {}, ['step', 'model', 'worker', 'progress'].map((x) => h('th', {}, x))),
      c.running.map((s) => h('tr', {},
          h('td', {}, s.name), h('td', {}, s.model), h('td', {}, s.worker),
          h('td', {}, s.progress.total > 0 ? progressBar(s.progress.done, s.progress.total) : '',
            ' ', progressText(s.progress)))));
  const failures = c.failures.map((f) => h('div', {class: 'card failure'},
      h('div', {class: 'flex'}, h('strong', {}, f.name), stateSpan(f.state),
        h('span', {class: 'muted'}, `attempt ${f.attempts}/${f.max_attempts}`),
        f.worker ? h('span', {class: 'muted'}, 'on ' + f.worker) : null),
      f.error ? h('pre', {}, f.error) : null,
      f.gate_reason ? h('p', {}, f.gate_reason) : null,
      f.log_tail ? h('details', {}, h('summary', {}, 'log'), h('pre', {}, f.log_tail)) : null));
  show(h('h1', {}, c.name || c.id),
      h('div', {class: 'flex'}, stateSpan(c.state), progressBar(c.done, c.total),
        h('span', {class: 'muted'}, `${c.workers} workers`),
        c.eta_seconds === null ? null : h('span', {class: 'muted'}, 'ETA ' + duration(c.eta_seconds))),
      tabs(id, 'steps'),
      h('h2', {}, 'Models × stages'), grid,
      h('h2', {}, `Running (${c.running_total})`),
      c.running_total ? running : h('p', {class: 'muted'}, 'Nothing running.'),
      h('h2', {}, `Failures (${c.failure_total})`),
      c.failure_total ? failures : h('p', {class: 'muted'}, 'No failures.'));
  return c;
}

async function scoreboardPage(id, params) {
  const refQuery = params.has('ref') ? `?ref=${enc(params.get('ref'))}` : '';
  const b = await api(`/api/campaigns/${enc(id)}/scoreboard${refQuery}`);
  const refs = b.references;
  const pickRef = h('select', {id: 'ref', onchange: (e) => {
    location.hash = `#/c/${enc(id)}/scoreboard?ref=${enc(e.target.value)}`;
  }}, h('option', {value: ''}, 'none'), b.models.map((m) =>
      h('option', {value: m, selected: refs.length === 1 && refs[0] === m ? 'selected' : null}, m)));
  const head = h('tr', {}, h('th', {}, 'suite'), b.models.map((m) => h('th', {class: 'num'}, m)));
  // `cohort report --format json`: suites [{suite, cells {model}, delta {model {ref}}}]
  const rows = b.suites.map((s) => h('tr', {}, h('td', {}, s.suite), b.models.map((m) => {
    const cell = s.cells[m];
    if (!cell) return h('td', {class: 'num muted'}, '–');
    const delta = s.delta[m] || {};
    const deltas = refs.filter((r) => r in delta).map((r) => {
      const d = delta[r];
      return h('div', {class: d > 0 ? 'delta-up' : d < 0 ? 'delta-down' : 'muted',
                       title: 'Δ vs ' + r}, `Δ ${r} ${signed(d)}`);
    });
    return h('td', {class: 'num'}, h('div', {}, pct(cell.accuracy)),
        h('div', {class: 'muted'}, `${cell.passed}/${cell.n}`),
        cell.server_errors ? h('div', {class: 'error'}, `${cell.server_errors} server errors`) : null,
        deltas);
  })));
  show(h('h1', {}, 'Scoreboard'), tabs(id, 'scoreboard'),
      h('div', {class: 'flex'}, 'Δ against', pickRef),
      b.suites.length ? h('table', {id: 'scoreboard'}, head, rows) :
      h('p', {class: 'muted'}, 'No scored results yet.'),
      h('img', {class: 'plot', alt: 'scoreboard plot',
                src: `/api/campaigns/${enc(id)}/plots/scoreboard.svg${refQuery}`}));
}

async function lengthsPage(id, params) {
  const c = await api(`/api/campaigns/${enc(id)}`);
  const suite = params.get('suite') || c.suites[0];
  if (!suite) return show(h('h1', {}, 'Lengths'), tabs(id, 'lengths'),
      h('p', {class: 'muted'}, 'No suites.'));
  // `cohort lengths --format json`: [{model, suite, n, chars, tokens, ...}]
  const l = await api(`/api/campaigns/${enc(id)}/lengths?suite=${enc(suite)}`);
  const suiteTabs = h('div', {class: 'tabs'}, c.suites.map((s) =>
      h('a', {href: `#/c/${enc(id)}/lengths?suite=${enc(s)}`, class: s === suite ? 'on' : null}, s)));
  const cols = ['model', 'n', 'p50', 'p90', 'max', 'saturated', 'saturated & failed',
                'mean tokens pass', 'mean tokens fail', 'server errors'];
  const rows = l.map((m) => h('tr', {},
      h('td', {}, m.model), h('td', {class: 'num'}, m.n), h('td', {class: 'num'}, m.tokens.p50),
      h('td', {class: 'num'}, m.tokens.p90), h('td', {class: 'num'}, m.tokens.max),
      h('td', {class: 'num'}, m.saturated), h('td', {class: 'num'}, m.saturated_and_failed),
      h('td', {class: 'num'}, Math.round(m.mean_tokens_pass)),
      h('td', {class: 'num'}, Math.round(m.mean_tokens_fail)),
      h('td', {class: 'num'}, m.server_errors || 0)));
  show(h('h1', {}, 'Answer lengths'), tabs(id, 'lengths'), suiteTabs,
      h('p', {class: 'muted'}, 'completion tokens; saturated: finish_reason length or ≥ ' +
        `${c.saturation_tokens} tokens`),
      h('table', {id: 'lengths'}, h('tr', {}, cols.map((x) => h('th', {}, x))), rows),
      h('img', {class: 'plot', alt: 'length plot of ' + suite,
                src: `/api/campaigns/${enc(id)}/plots/lengths.svg?suite=${enc(suite)}`}));
}

async function comparePage(id, params) {
  const c = await api(`/api/campaigns/${enc(id)}`);
  const models = c.models;
  const a = params.get('a') || models[0];
  const b = params.get('b') || models[1] || models[0];
  const go = (na, nb) => { location.hash = `#/c/${enc(id)}/compare?a=${enc(na)}&b=${enc(nb)}`; };
  const pick = (value, onchange) => h('select', {onchange},
      models.map((m) => h('option', {value: m, selected: m === value ? 'selected' : null}, m)));
  const head = h('div', {class: 'flex'}, 'A', pick(a, (e) => go(e.target.value, b)),
      'against B', pick(b, (e) => go(a, e.target.value)));
  if (!a || !b) return show(h('h1', {}, 'Compare'), tabs(id, 'compare'), head);
  const f = await api(`/api/campaigns/${enc(id)}/compare?a=${enc(a)}&b=${enc(b)}`);
  const link = (suite, p) => h('a', {href: `#/c/${enc(id)}/compare?a=${enc(a)}&b=${enc(b)}` +
      `&suite=${enc(suite)}&problem=${enc(p)}`}, p);
  // `cohort compare --format json`: suites {suite: {wins, losses, ...}}
  const sections = Object.entries(f.suites).map(([suite, s]) => h('div', {class: 'card'},
      h('h2', {}, suite),
      h('p', {}, `A wins ${s.wins.length}, B wins ${s.losses.length}, both pass ${s.both_pass}, ` +
        `both fail ${s.both_fail}` + (s.only_a || s.only_b ? `, only A ${s.only_a}, only B ${s.only_b}` : '')),
      s.wins.length ? h('div', {}, 'A passed, B failed:',
        h('ul', {class: 'ids'}, s.wins.map((p) => h('li', {}, link(suite, p))))) : null,
      s.losses.length ? h('div', {}, 'B passed, A failed:',
        h('ul', {class: 'ids'}, s.losses.map((p) => h('li', {}, link(suite, p))))) : null));
  let detail = null;
  if (params.get('problem')) {
    const p = await api(`/api/campaigns/${enc(id)}/problem?suite=${enc(params.get('suite'))}` +
        `&problem=${enc(params.get('problem'))}&models=${enc(a)},${enc(b)}`);
    const column = (m) => h('div', {class: 'card'}, h('h2', {}, m),
        p.answers.filter((x) => x.model === m).map((x) => h('div', {class: 'answer'},
            h('div', {class: 'flex'},
              h('span', {class: x.verdict === 1 ? 'state-succeeded' : 'state-failed'},
                x.verdict === 1 ? 'pass' : x.verdict === 3 ? 'error' : 'fail'),
              h('span', {class: 'muted'}, `${x.completion_tokens} tokens, ${x.finish_reason}`),
              h('span', {}, 'answer: ', h('code', {}, x.extracted_answer))),
            x.reasoning ? h('details', {}, h('summary', {}, 'reasoning'), h('pre', {}, x.reasoning)) : null,
            h('pre', {}, x.completion))));
    detail = h('div', {}, h('h2', {}, `${p.suite} · ${p.problem}`),
        h('div', {class: 'side', id: 'side-by-side'}, column(a), column(b)));
  }
  show(h('h1', {}, 'Compare'), tabs(id, 'compare'), head, detail, sections);
}

async function workersPage() {
  const w = await api('/api/workers');
  const rows = w.workers.map((x) => h('tr', {},
      h('td', {}, x.id), h('td', {}, x.info.hostname || ''), h('td', {}, stateSpan(x.state)),
      h('td', {class: 'muted'}, when(x.last_heartbeat_us)),
      h('td', {}, (x.info.gpus || []).map((g) => h('div', {}, `${g.index}: ${g.model}`))),
      h('td', {}, (x.info.tools || []).map((t) => h('div', {}, `${t.name} ${t.version}`))),
      h('td', {}, x.leases.map((l) => h('div', {}, l.name, ' ',
          h('span', {class: 'muted'}, progressText(l.progress)))))));
  show(h('h1', {}, 'Workers'),
      rows.length === 0 ? h('p', {class: 'muted'}, 'No workers registered.') :
      h('table', {id: 'workers'},
          h('tr', {}, ['worker', 'host', 'state', 'last heartbeat', 'GPUs', 'tools', 'leases']
              .map((x) => h('th', {}, x))),
          rows));
}

function loginPage(message) {
  stopFollowing();
  const input = h('input', {type: 'password', name: 'token', autocomplete: 'off',
                            placeholder: 'client token (cohortd token create --role client)'});
  const status = h('p', {class: 'error'}, message || '');
  const form = h('form', {class: 'login card'}, h('h1', {}, 'Sign in'),
      h('p', {class: 'muted'}, 'The dashboard reads with a client or admin token.'),
      input, h('button', {type: 'submit'}, 'Sign in'), status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await fetch('/login', {method: 'POST', credentials: 'same-origin',
        body: new URLSearchParams({token: input.value})});
    if (r.ok) { start(); return; }
    let body = {};
    try { body = await r.json(); } catch (err) { body = {}; }
    status.textContent = body.error || r.statusText;
  });
  show(form);
}

// --- routing -----------------------------------------------------------

async function route(refresh) {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter((x) => x).map(decodeURIComponent);
  const y = window.scrollY;
  try {
    if (parts.length === 0) {
      await campaignsPage();
      if (!refresh) follow('');
    } else if (parts[0] === 'workers') {
      await workersPage();
      if (!refresh) stopFollowing();
    } else if (parts[0] === 'c' && parts.length >= 2) {
      const id = parts[1];
      const view = parts[2] || 'steps';
      if (view === 'steps') await campaignPage(id);
      else if (view === 'scoreboard') await scoreboardPage(id, params);
      else if (view === 'lengths') await lengthsPage(id, params);
      else if (view === 'compare') await comparePage(id, params);
      else throw new HttpError(404, 'no page ' + view);
      if (!refresh) follow(id);
    } else {
      throw new HttpError(404, 'no page ' + hash);
    }
    if (refresh) window.scrollTo(0, y);
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) return loginPage();
    stopFollowing();
    show(h('h1', {}, 'Cannot show this page'), h('p', {class: 'error', id: 'page-error'}, e.message));
  }
}

async function start() {
  try {
    const me = await api('/api/whoami');
    document.getElementById('who').textContent = `${me.identity} (${me.role})`;
    document.getElementById('signout').hidden = false;
  } catch (e) {
    if (e instanceof HttpError && e.status === 401) return loginPage();
    return show(h('p', {class: 'error'}, e.message));
  }
  route(false);
}

document.getElementById('signout').addEventListener('click', async () => {
  await fetch('/logout', {method: 'POST', credentials: 'same-origin'});
  document.getElementById('who').textContent = '';
  document.getElementById('signout').hidden = true;
  loginPage();
});
window.addEventListener('hashchange', () => route(false));
start();
