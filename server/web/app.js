/*
 * app.js: the vmvault dashboard, a single page over the REST API (docs/api.md).
 *
 * The user's token lives in sessionStorage only and goes with every request as
 * "Authorization: Bearer"; the server checks every action against the token's
 * role, exactly as for the CLI. The page greys out what the role cannot do and
 * shows the server's refusal when it says no.
 *
 * Views are chosen by the URL's hash (#/vaults, #/v/NAME/overview, ...). A view
 * that shows running jobs polls the API every second and redraws only its data,
 * never the controls the user is working in.
 */
'use strict';

/* ---- small helpers -------------------------------------------------------------- */

const TOKEN_KEY = 'vmvault.token';
const ROLES = ['Reader', 'Operator', 'Contributor', 'Owner'];
const BROWSER_ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/* h('tag.class', {attr: value, onclick: fn}, children...): a new element. */
function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

/* Replaces el's children with children (nested arrays flattened, null and false left out). */
function put(el, ...children) {
  clear(el);
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
function enc(s) { return encodeURIComponent(s); }

let idSeq = 0;
function uid(prefix) { idSeq += 1; return `${prefix}-${idSeq}`; }

/* A labelled form field: the control gets an id and the label points at it. */
function field(label, control, hint) {
  control.id = control.id || uid('f');
  const parts = [h('label', { for: control.id, text: label }), control];
  if (hint) {
    const hid = uid('hint');
    control.setAttribute('aria-describedby', hid);
    parts.push(h('small.hint', { id: hid }, hint));
  }
  return h('div.field', {}, parts);
}

function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

function fmtSeconds(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return '–';
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  const hours = `${Math.floor((s % 86400) / 3600)} h`;
  const min = Math.floor((s % 3600) / 60);
  if (s < 86400) return min ? `${hours} ${min} min` : hours;
  return `${Math.floor(s / 86400)} d ${hours}`;
}

function parseTime(t) { return t ? new Date(t) : null; }

/* How long before now (a Date, e.g. the server's answer time) t was: "4 min 10 s ago". */
function ago(t, now) {
  const d = parseTime(t);
  if (!d || !now) return '';
  const s = (now - d) / 1000;
  return s < 1 ? 'just now' : `${fmtSeconds(s)} ago`;
}

/* A rate in bytes per second: "12.5 MiB/s"; 0 or none is "none". */
function fmtRate(n) {
  return n ? `${fmtBytes(n)}/s` : 'none';
}

/* A UTC API time in zone (default: the browser's), "2026-11-27 22:08". */
function inZone(t, zone) {
  const d = parseTime(t);
  if (!d) return '–';
  const f = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone || BROWSER_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });
  const p = Object.fromEntries(f.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/* A time element: the browser's zone, with UTC in its title. */
function timeEl(t) {
  if (!t) return h('span.muted', { text: '–' });
  return h('time', { datetime: t, title: `${t.replace('T', ' ').replace('Z', '')} UTC` }, inZone(t));
}

function dateOnly(d) {
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
}

function badge(status) {
  const cls = {
    Completed: 'ok', Healthy: 'ok', Protected: 'ok', ApplicationConsistent: 'ok',
    FileSystemConsistent: 'ok',
    CompletedWithWarnings: 'warn', Warning: 'warn', CrashConsistent: 'warn', IRPending: 'info',
    Pending: 'info', InProgress: 'info', Cancelling: 'warn',
    Failed: 'bad', Critical: 'bad', Cancelled: 'muted', Stopped: 'muted',
    ProtectionStopped: 'muted', BackupsSuspended: 'muted', SoftDeleted: 'warn',
    Lagging: 'warn', Broken: 'bad', NotConfigured: 'muted', NotReplicated: 'muted',
    Connected: 'ok', Unreachable: 'bad', Refused: 'bad', Replica: 'info',
    Information: 'info', Informational: 'info',
  }[status] || 'muted';
  return h(`span.badge.${cls}`, { text: status || '–' });
}

/* What to do about an error or warning code the server or agent reports. */
const REMEDIES = {
  AgentStoppedResponding: 'The host agent stopped reporting. Check that vmvault-agent runs on the host (systemctl status vmvault-agent) and can reach the vault, then run the backup again.',
  AgentUnreachable: 'The host agent has not contacted the vault. Start vmvault-agent on the host and check its network path to the vault (vmvault-agent check-connectivity).',
  VaultRestarted: 'The vault server restarted while the job ran. Run the job again.',
  GuestAgentNotConfigured: "Add a guest agent channel to the domain (<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>) and install qemu-guest-agent in the guest for file-system-consistent points.",
  GuestAgentNotResponding: 'Install and start qemu-guest-agent inside the guest.',
  PreScriptFailed: 'Check the pre-script inside the guest: its path, permissions and exit status (the job shows its output).',
  PostScriptFailed: 'Check the post-script inside the guest: its path, permissions and exit status.',
  FsFreezeFailed: "The guest could not freeze its filesystems. Check the guest agent's log and the guest's fsfreeze hooks.",
  FsFreezeTimedOut: "Freezing took longer than the agent's --freeze-timeout. Look for slow fsfreeze hooks in the guest, or raise the timeout.",
  FsFreezeSkipped: 'The freeze was skipped; the point is crash-consistent.',
  GuestNotThawed: 'The guest reported frozen filesystems after the backup. Check it at once (virsh domfsinfo) and thaw it (virsh domfsthaw).',
  IncrementalChainBroken: "The VM's checkpoint was missing, so this backup read the whole disks. The next one is incremental again.",
  ChainStateNotSaved: 'The agent could not save its checkpoint state; the next backup will read the whole disks.',
  TargetExists: 'A file of the restore already exists in the target folder. Choose another folder or remove the file.',
  VmRunning: 'Shut the VM off before restoring it to its original location.',
  VmNotFound: 'The VM no longer exists on its host. Restore its disks, or restore it as a new VM.',
  OperationInProgress: 'Another job of this item runs. Wait for it, or cancel it on the Backup jobs page.',
  AuthorizationFailed: "Your token's role does not allow this. Ask a vault Owner for a token with a higher role.",
  GuestScriptConfigMissing: 'The guest has no /etc/vmvault/VMSnapshotScriptPluginConfig.json. Create it inside the guest (root-owned, mode 0600) naming the scripts, or turn scripts off in the consistency settings.',
  GuestScriptConfigUnsafe: "The guest's script configuration file is not root-owned with mode 0600. Fix it inside the guest: chown root:root and chmod 0600.",
  GuestScriptConfigInvalid: "The guest's script configuration file is not valid JSON of the documented form. Correct it inside the guest (see docs/api.md).",
  GuestScriptConfigUnreadable: 'The agent could not read the guest\'s script configuration through the guest agent. Check that qemu-guest-agent runs and allows guest-file-open, then run the backup again.',
  ScriptNotInGuestConfig: "The vault asked for a script the guest's configuration file does not list. Add it to the guest's file with its parameters, or turn scripts off for this item.",
  VaultStorageFull: "The vault's storage is full. Delete recovery points and run garbage collection, or grow the file system, then run the job again.",
  VaultStorageLow: "Free space on the vault's storage is below the server's --min-free, so backups are refused. Free space or grow the file system.",
  DomainDevicesDropped: 'The restored VM left out devices of the saved definition (host devices, passthrough, extra command lines). Add back those you need by hand (virsh edit).',
  TargetNotAllowed: "The restore target is outside the folders the host allows. Choose a folder under the agent's Restore.Roots, or add it there in agent.conf.",
  InvalidJobParameters: 'The agent refused what the vault sent for this job (a name or path that is not valid). Check the item and restore settings, and the vault server.',
  DiskNotInDomain: "The VM's current definition has no disk of that name. Restore its disks to a folder, or as a new VM.",
  ContainerAlreadyRegistered: "A host of this name is registered already. Re-register from that host with its own token, or let a Contributor allow its replacement (reinstalled machine).",
  PinLimitReached: "The backup pinned more chunks than the server's --job-pin-limit allows. Raise that limit on vmvaultd, then run the backup again.",
  ReplicationNotConfigured: 'This GeoRedundant vault keeps one copy: no secondary vault server is paired. On the secondary run "vmvault pairing invite", then on this server "vmvault pairing create --invitation FILE". Or make the vault LocallyRedundant while it protects nothing.',
  ReplicationLagging: "Points wait to reach the secondary region. Check the replication jobs, the pairing's rate limit and window (Pairing), and the link to the secondary.",
  ReplicationBroken: 'The last replication attempt failed. Read the reason, check that the secondary vault server runs and is reachable (Pairing shows its last contact); replication resumes by itself once it answers.',
  ReplicaVaultReadOnly: 'This vault is a replica: it changes only by replication. Restore from it, or make the change on the primary vault server.',
  TargetHostRequired: "The item's own host is not registered in this vault (a replica): choose a registered host to run the restore.",
  SecondaryUnreachable: "The secondary vault server did not answer. Check its URL, that it runs, and the network path to it.",
  RecoveryPointDamaged: 'Verification found damaged chunks (moved aside, never deleted). On a replica the primary re-sends the points; on a primary, take a new backup of the items named.',
};

function remedy(code) {
  return REMEDIES[code] ? h('p.remedy', {}, h('strong', { text: 'What to do: ' }), REMEDIES[code]) : null;
}

/* ---- the API -------------------------------------------------------------------- */

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store', credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, 'NetworkError', `the vault server cannot be reached (${e.message})`);
  }
  const text = await res.text();
  let j = null;
  try { j = text ? JSON.parse(text) : {}; } catch (e) { j = null; }
  if (!res.ok) {
    const err = j && j.error ? j.error : { code: `HTTP${res.status}`, message: text || res.statusText };
    if (res.status === 401 && path !== '/whoami') signOut('Your token is no longer valid: sign in again.');
    throw new ApiError(res.status, err.code, err.message);
  }
  return j;
}

/* ---- session and roles ----------------------------------------------------------- */

const session = { user: null, role: null };

function can(role) {
  return ROLES.indexOf(session.role) >= ROLES.indexOf(role);
}

/* Disables button when the signed-in role is below need, saying why. */
function guard(button, need) {
  if (!can(need)) {
    button.disabled = true;
    button.title = `Needs the ${need} role; you are signed in as ${session.role}`;
    button.classList.add('locked');
  }
  return button;
}

/* The vault the current view shows, and whether it is a replica (its primary's region). */
const vaultShown = { vault: null, replicaOf: null };

async function loadVault(vault) {
  vaultShown.vault = vault;
  vaultShown.replicaOf = null;
  try {
    const v = await api('GET', `/vaults/${enc(vault)}`);
    vaultShown.replicaOf = v.replicaOf || null;
  } catch (e) {
    /* the view itself fetches the vault's data and reports the error */
  }
}

function replicaReason() {
  return `Read-only: this vault is a replica of the vault in region ${vaultShown.replicaOf}; it changes only by replication. Restore from it, or make the change on the primary vault server.`;
}

/* Disables button on a replica vault, saying why (the server would answer 409 ReplicaVaultReadOnly). */
function writable(button) {
  if (vaultShown.replicaOf) {
    button.disabled = true;
    button.title = replicaReason();
    button.classList.add('locked');
    button.dataset.readonly = 'replica';
  }
  return button;
}

/* A note at the top of a replica vault's views; null for other vaults. */
function replicaNote() {
  return vaultShown.replicaOf ? h('p.replica-note', { role: 'note', 'data-testid': 'replica-note' },
    h('strong', { text: `Replica of ${vaultShown.replicaOf}. ` }), replicaReason()) : null;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  session.user = null;
  session.role = null;
  if (message) notify(message, 'bad');
  location.hash = '#/signin';
}

/* ---- notices -------------------------------------------------------------------- */

function notify(text, kind) {
  const box = document.getElementById('notices');
  const n = h(`div.notice.${kind || 'ok'}`, {}, text,
    h('button.link', { type: 'button', 'aria-label': 'Dismiss', onclick: () => n.remove(), text: '×' }));
  box.append(n);
  setTimeout(() => n.remove(), kind === 'bad' ? 12000 : 6000);
}

function errorBox(e) {
  return h('div.error', { role: 'alert' },
    h('strong', { text: e.code ? `${e.code}: ` : 'Error: ' }), e.message, remedy(e.code));
}

/* Runs an action from a button: disables it meanwhile, reports failure. */
async function act(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    notify(`${e.code || 'Error'}: ${e.message}`, 'bad');
    return undefined;
  } finally {
    if (button && !button.classList.contains('locked')) button.disabled = false;
  }
}

/* ---- dialogs -------------------------------------------------------------------- */

/* A modal dialog with a form; resolves with onSubmit's value, or null when closed. */
function dialog(title, body, submitText, onSubmit, opts = {}) {
  return new Promise((resolve) => {
    const err = h('div.dialog-error', { role: 'alert' });
    const submit = h(`button.${opts.danger ? 'danger' : 'primary'}`, { type: 'submit', text: submitText });
    const cancel = h('button', { type: 'button', text: 'Cancel' });
    const titleId = uid('dlg');
    const form = h('form', { method: 'dialog' }, h('h2', { id: titleId, text: title }), body, err,
      h('div.buttons', {}, cancel, submit));
    const dlg = h('dialog', { 'aria-labelledby': titleId }, form);
    let done = false;
    const finish = (v) => { if (!done) { done = true; dlg.close(); dlg.remove(); resolve(v); } };
    cancel.addEventListener('click', () => finish(null));
    dlg.addEventListener('cancel', () => finish(null));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clear(err);
      submit.disabled = true;
      try {
        finish(await onSubmit());
      } catch (e) {
        err.append(errorBox(e));
      } finally {
        submit.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = form.querySelector('input, select, textarea');
    if (first) first.focus();
  });
}

/* ---- the frame: header, navigation, polling ---------------------------------------- */

let pollTimer = null;
let viewSeq = 0;

function stopPolling() { if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; } }

/* Calls fn every interval(ms) while the view that started it is shown. */
function poll(fn, interval) {
  const seq = viewSeq;
  const tick = async () => {
    if (seq !== viewSeq) return;
    let next = interval;
    try {
      const r = await fn();
      if (typeof r === 'number') next = r;
    } catch (e) {
      /* a failed refresh is retried; the view keeps its last data */
    }
    if (seq === viewSeq) pollTimer = setTimeout(tick, next);
  };
  pollTimer = setTimeout(tick, interval);
}

function setCrumbs(parts) {
  const el = clear(document.getElementById('crumbs'));
  parts.forEach((p, i) => {
    if (i) el.append(h('span.sep', { 'aria-hidden': 'true', text: '›' }));
    el.append(p.href ? h('a', { href: p.href, text: p.text }) : h('span', { text: p.text }));
  });
}

function setNav(vault, current) {
  const nav = document.getElementById('nav');
  clear(nav);
  if (!vault) { nav.hidden = true; return; }
  nav.hidden = false;
  const links = [
    ['overview', 'Overview'], ['backup', '+ Backup'], ['items', 'Backup items'],
    ['jobs', 'Backup jobs'], ['policies', 'Backup policies'], ['properties', 'Properties'],
  ];
  const replica = vaultShown.vault === vault && vaultShown.replicaOf;
  nav.append(h('div.nav-title', {}, vault, replica ? h('span.badge.info.block', { 'data-testid': 'nav-replica', text: `Replica of ${replica}` }) : null),
    h('ul', {}, links.map(([k, t]) => h('li', {}, h('a', {
      href: `#/v/${enc(vault)}/${k}`, text: t, 'aria-current': k === current ? 'page' : null,
    })))));
}

function page(title, ...content) {
  const main = document.getElementById('main');
  put(main, h('h1', { text: title }), content);
  document.title = `${title} · vmvault`;
  return main;
}

/* ---- sign in -------------------------------------------------------------------- */

function viewSignIn() {
  setNav(null);
  setCrumbs([]);
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: false });
  const err = h('div');
  const form = h('form.card.narrow', {},
    field('User token', token, 'A token from "vmvault token create" (starts with vvt_). It is kept in this browser tab only and forgotten when the tab closes.'),
    err, h('div.buttons', {}, h('button.primary', { type: 'submit', text: 'Sign in' })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(err);
    sessionStorage.setItem(TOKEN_KEY, token.value.trim());
    try {
      const me = await api('GET', '/whoami');
      if (me.agent) throw new ApiError(403, 'AuthorizationFailed', 'this is a host agent\'s token; sign in with a user token');
      session.user = me.user;
      session.role = me.role;
      location.hash = '#/vaults';
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      err.append(errorBox(e.status === 401 ? new ApiError(401, 'Unauthenticated', 'the token is unknown, revoked or expired') : e));
    }
  });
  page('Sign in', form);
}

/* ---- vaults --------------------------------------------------------------------- */

async function viewVaults() {
  setNav(null);
  setCrumbs([{ text: 'Vaults' }]);
  const list = h('div', {}, h('p.muted', { text: 'Loading…' }));
  const name = h('input', { name: 'name', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}', autocomplete: 'off' });
  const locationIn = h('input', { name: 'location', required: true, pattern: '[a-z0-9\\-]{1,64}', value: 'westeurope' });
  const red = h('select', { name: 'storageRedundancy' },
    h('option', { value: 'GeoRedundant', text: 'Geo-redundant (GRS)' }),
    h('option', { value: 'LocallyRedundant', text: 'Locally redundant (LRS)' }));
  const create = guard(h('button.primary', { type: 'submit', text: 'Create vault' }), 'Contributor');
  const form = h('form.card', { 'aria-label': 'Create a vault' }, h('h2', { text: 'Create a vault' }),
    h('div.row', {}, field('Name', name, 'Letters, digits, ".", "_", "-"'),
      field('Location', locationIn, 'The region of the hosts it protects, e.g. westeurope'),
      field('Storage redundancy', red)), h('div.buttons', {}, create));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(create, async () => {
      const v = await api('POST', '/vaults', { name: name.value.trim(), location: locationIn.value.trim(), storageRedundancy: red.value });
      notify(`Vault ${v.name} created, with its DefaultPolicy`);
      location.hash = `#/v/${enc(v.name)}/overview`;
    });
  });
  page('Vaults', list, form);
  try {
    const { value } = await api('GET', '/vaults');
    put(list, value.length ? table(
      ['Name', 'Location', 'Redundancy', 'Protected items', 'Recovery points', 'Hosts', 'Created'],
      value.map((v) => h('tr', { 'data-vault': v.name }, [h('a', { href: `#/v/${enc(v.name)}/overview`, text: v.name }), v.location,
        [v.storageRedundancy, v.replicaOf ? ' ' : null, v.replicaOf ? h('span.badge.info', { title: 'Read-only: it changes only by replication', text: `Replica of ${v.replicaOf}` }) : null],
        v.protectedItemCount, v.recoveryPointCount, v.containerCount, timeEl(v.createdAt)].map((c) => h('td', {}, c)))),
      'Vaults') : h('p.empty', { text: 'No vault yet: create one below.' }));
  } catch (e) { put(list, errorBox(e)); }
}

/* A table from a header list and rows of cells (nodes or text). */
function table(headers, rows, caption) {
  return h('div.table-wrap', {}, h('table', {},
    caption ? h('caption.sr-only', { text: caption }) : null,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col', text: x })))),
    h('tbody', {}, rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((c) => h('td', {}, c))))))));
}

/* ---- overview ------------------------------------------------------------------- */

async function viewOverview(vault) {
  const body = h('div', {}, h('p.muted', { text: 'Loading…' }));
  page(`Overview of ${vault}`, body);
  const draw = async () => {
    const o = await api('GET', `/vaults/${enc(vault)}/overview`);
    const health = o.protectedItems.byHealth;
    const jobs = o.jobsLast24Hours.byStatus;
    const st = o.storage;
    const cards = h('div.cards', {},
      h('section.card', { 'aria-labelledby': 'ov-items' }, h('h2', { id: 'ov-items', text: `Protected items (${o.protectedItems.total})` }),
        h('dl.counts', {}, ['Healthy', 'Warning', 'Critical', 'Pending', 'Stopped'].map((k) => [
          h('dt', {}, badge(k)), h('dd', { text: String(health[k]) })]).flat()),
        h('a', { href: `#/v/${enc(vault)}/items`, text: 'Backup items →' })),
      h('section.card', { 'aria-labelledby': 'ov-jobs' }, h('h2', { id: 'ov-jobs', text: `Jobs in the last 24 hours (${o.jobsLast24Hours.total})` }),
        h('dl.counts', {}, ['InProgress', 'Completed', 'CompletedWithWarnings', 'Failed', 'Cancelled'].map((k) => [
          h('dt', {}, h('a', { href: `#/v/${enc(vault)}/jobs?status=${k}` }, badge(k))), h('dd', { text: String(jobs[k]) })]).flat())),
      h('section.card', { 'aria-labelledby': 'ov-storage' }, h('h2', { id: 'ov-storage', text: 'Storage' }),
        h('dl.kv', {},
          h('dt', { text: 'Stored in the vault' }), h('dd', { 'data-testid': 'storage-used', text: st.usedBytes === null && st.measuring ? 'measuring…' : fmtBytes(st.usedBytes) }),
          h('dt', { text: 'Logical data of all points' }), h('dd', { text: fmtBytes(st.logicalBytes) }),
          h('dt', { text: 'Deduplication ratio' }), h('dd', { text: st.deduplicationRatio ? `${st.deduplicationRatio.toFixed(2)} : 1` : '–' }),
          h('dt', { text: 'Recovery points' }), h('dd', { text: `${st.recoveryPoints}${st.softDeletedPoints ? ` (and ${st.softDeletedPoints} soft deleted)` : ''}` }),
          h('dt', { text: 'Free space' }), h('dd', { 'data-testid': 'storage-free', text: st.freeBytes === undefined ? '–' : `${fmtBytes(st.freeBytes)}${st.lowSpace ? ` (below the ${fmtBytes(st.minFreeBytes)} kept free: backups are refused)` : ''}` })),
        st.logicalBytes > 0 ? h('progress', { max: Math.max(st.logicalBytes, st.usedBytes), value: st.usedBytes, 'aria-label': 'Stored bytes against logical bytes' }) : null),
      replicationCard(vault, o));
    const alerts = h('section.card.wide', { 'aria-labelledby': 'ov-alerts' }, h('h2', { id: 'ov-alerts', text: `Alerts (${o.alerts.length})` }),
      o.alerts.length ? h('ul.alerts', {}, o.alerts.map((a) => h('li', { 'data-alert': a.code }, badge(a.severity), ' ',
        h('strong', { text: a.code }), ' ', a.message, ' ', a.job ? h('a', { href: `#/v/${enc(vault)}/jobs/${enc(a.job)}`, text: 'job' }) : null,
        /^Replication/.test(a.code || '') ? h('a', { href: '#/pairing', text: 'pairing' }) : null)))
        : h('p.empty', { text: 'No alerts: every protected item has a recent recovery point and no backup failed.' }));
    const replica = o.replication && o.replication.role === 'Replica' ? ` · replica of ${o.replication.primaryRegion || vaultShown.replicaOf}, read-only` : '';
    put(body, replicaNote(), h('p.muted.small', { 'data-testid': 'vault-head' }, `${o.location} · ${o.storageRedundancy}${replica} · as of `, timeEl(o.time)), cards, alerts);
    return 10000;
  };
  try { await draw(); poll(draw, 10000); } catch (e) { put(body, errorBox(e)); }
}

/* The rows of a vault's `replication` object (docs/api.md) as a definition list;
 * now (a Date: the server's answer time) dates the last replication. */
function replicationDetails(r, now) {
  const rows = [];
  const add = (k, id, ...v) => rows.push(h('dt', { text: k }), h('dd', { 'data-testid': id }, ...v));
  if (r.role === 'Replica') add('Replica of', 'repl-region', `the vault in region ${r.primaryRegion || '–'}`);
  else if (r.secondaryRegion) add('Secondary region', 'repl-region', r.secondaryRegion);
  if (r.state === 'NotReplicated') return rows.length ? h('dl.kv', {}, rows) : null;
  if (typeof r.replicationLagSeconds === 'number') {
    add('Replication lag', 'repl-lag', fmtSeconds(r.replicationLagSeconds),
      r.lagAlertSeconds ? h('small.muted', { text: ` (alert above ${fmtSeconds(r.lagAlertSeconds)})` }) : null);
  }
  if (typeof r.pendingPoints === 'number') {
    add('Pending', 'repl-pending', `${r.pendingPoints} point${r.pendingPoints === 1 ? '' : 's'}, ${fmtBytes(r.pendingBytes || 0)}`);
  }
  const paired = r.role !== 'None' && r.state !== 'NotConfigured';
  if (paired || r.lastReplicatedTime) {
    add('Last replicated', 'repl-last', r.lastReplicatedTime
      ? [timeEl(r.lastReplicatedTime), ' ', h('small.muted', { text: `(${ago(r.lastReplicatedTime, now)})` })]
      : h('span.muted', { text: 'never' }));
  }
  if (r.role === 'Primary' && paired) {
    add('Transfer rate', 'repl-rate', r.transferRateBytesPerSecond ? fmtRate(r.transferRateBytesPerSecond) : 'idle');
    if (typeof r.bytesSent === 'number') add('Sent', 'repl-sent', fmtBytes(r.bytesSent));
  }
  if (r.role === 'Replica') {
    if (typeof r.transferRateBytesPerSecond === 'number') add('Transfer rate', 'repl-rate', r.transferRateBytesPerSecond ? fmtRate(r.transferRateBytesPerSecond) : 'idle');
    if (typeof r.bytesReceived === 'number') add('Received', 'repl-received', `${fmtBytes(r.bytesReceived)}${typeof r.chunksReceived === 'number' ? ` in ${r.chunksReceived} chunks` : ''}`);
  }
  return rows.length ? h('dl.kv', {}, rows) : null;
}

/* The overview's replication card: state, reason, region, lag, pending, last time, rate. */
function replicationCard(vault, o) {
  const lrs = o.storageRedundancy === 'LocallyRedundant';
  const r = o.replication;
  if (!r) return null;
  const { state, reason } = r;
  const links = [];
  if (state === 'NotConfigured' || state === 'Broken' || r.role === 'Replica') links.push(h('a', { href: '#/pairing', text: 'Pairing →' }));
  if (r.role === 'Primary' && state !== 'NotConfigured') links.push(h('a', { href: `#/v/${enc(vault)}/jobs?operation=Replication`, text: 'Replication jobs →' }));
  return h('section.card', { 'aria-labelledby': 'ov-repl', 'data-testid': 'replication-card', 'data-state': state },
    h('h2', { id: 'ov-repl', text: `Replication (${lrs ? 'LRS' : 'GRS'})` }),
    h('p', { 'data-testid': 'repl-state' }, h('span.sr-only', { text: 'State: ' }), badge(state)),
    reason ? h('p.small', { 'data-testid': 'repl-reason', text: reason }) : null,
    replicationDetails(r, parseTime(o.time)),
    links.length ? h('p.small.actions', {}, links) : null);
}

/* ---- policies ------------------------------------------------------------------- */

function describeSchedule(p) {
  const s = p.schedulePolicy || {};
  if (s.scheduleRunFrequency === 'Hourly') {
    const hs = s.hourlySchedule || {};
    return `Every ${hs.interval} hours from ${hs.scheduleWindowStartTime} for ${hs.scheduleWindowDuration} hours (${p.timeZone})`;
  }
  const times = (s.scheduleRunTimes || []).join(', ');
  if (s.scheduleRunFrequency === 'Weekly') return `Weekly on ${(s.scheduleRunDays || []).join(', ')} at ${times} (${p.timeZone})`;
  return `Daily at ${times} (${p.timeZone})`;
}

function describeRetention(p) {
  const r = p.retentionPolicy || {};
  const out = [`Instant points: ${p.instantRpRetentionRangeInDays} days`];
  if (r.dailySchedule) out.push(`daily points: ${r.dailySchedule.retentionDuration.count} days`);
  if (r.weeklySchedule) out.push(`weekly (${(r.weeklySchedule.daysOfTheWeek || []).join(', ')}): ${r.weeklySchedule.retentionDuration.count} weeks`);
  if (r.monthlySchedule) out.push(`monthly: ${r.monthlySchedule.retentionDuration.count} months`);
  if (r.yearlySchedule) out.push(`yearly: ${r.yearlySchedule.retentionDuration.count} years`);
  return out.join('; ');
}

function policyDetails(p) {
  return h('dl.kv', { 'data-testid': 'policy-details' },
    h('dt', { text: 'Schedule' }), h('dd', { text: describeSchedule(p) }),
    h('dt', { text: 'Retention' }), h('dd', { text: describeRetention(p) }),
    h('dt', { text: 'Items using it' }), h('dd', { text: String(p.protectedItemsCount ?? 0) }));
}

function nextRunsList(runs, zone) {
  return table([`In the policy's zone (${zone})`, `In your browser's zone (${BROWSER_ZONE})`, 'UTC'],
    runs.map((r) => [r.local.replace('T', ' '), inZone(r.utc), r.utc.replace('T', ' ').replace('Z', '')]),
    'Next runs');
}

/* The form of a new policy; returns {el, spec()} where spec() builds the API object. */
function policyForm() {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  if (!zones.includes('UTC')) zones.unshift('UTC');
  const name = h('input', { name: 'policyName', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}', autocomplete: 'off' });
  const freq = h('select', { name: 'frequency' }, ['Daily', 'Weekly', 'Hourly'].map((f) => h('option', { value: f, text: f })));
  const times = h('input', { name: 'times', value: '02:00', pattern: '([0-2][0-9]:[03]0)(, *[0-2][0-9]:[03]0)*' });
  const day = h('select', { name: 'day' }, ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'].map((d) => h('option', { value: d, text: d })));
  const interval = h('select', { name: 'interval' }, [4, 6, 8, 12].map((n) => h('option', { value: String(n), text: `${n} hours` })));
  const winStart = h('input', { name: 'windowStart', value: '08:00' });
  const winHours = h('input', { name: 'windowHours', type: 'number', min: 4, max: 24, value: 12 });
  const zone = h('input', { name: 'timeZone', value: BROWSER_ZONE, list: 'tz-list', required: true, autocomplete: 'off' });
  const zoneList = h('datalist', { id: 'tz-list' }, zones.map((z) => h('option', { value: z })));
  const instant = h('input', { name: 'instantDays', type: 'number', min: 1, max: 30, value: 2 });
  const daily = h('input', { name: 'dailyDays', type: 'number', min: 7, max: 9999, value: 30 });
  const weekly = h('input', { name: 'weeklyWeeks', type: 'number', min: 0, max: 5163, value: 0 });
  const dailyBox = field('Run times (HH:MM, on the hour or half hour; comma separated)', times);
  const dayBox = field('Day of the week', day);
  const hourlyBox = h('div.row', {}, field('Every', interval), field('Window starts at (HH:MM)', winStart), field('Window length (hours)', winHours));
  const sync = () => {
    dayBox.hidden = freq.value !== 'Weekly';
    dailyBox.hidden = freq.value === 'Hourly';
    hourlyBox.hidden = freq.value !== 'Hourly';
    if (freq.value === 'Weekly') instant.value = 5;
  };
  freq.addEventListener('change', sync);
  sync();
  const el = h('fieldset.card', {}, h('legend', { text: 'New policy' }),
    h('div.row', {}, field('Policy name', name), field('Frequency', freq),
      field('Time zone', zone, `IANA name; your browser's is ${BROWSER_ZONE}`)), zoneList,
    h('div.row', {}, dailyBox, dayBox), hourlyBox,
    h('div.row', {}, field('Keep instant points (days)', instant),
      field('Keep daily points (days)', daily), field('Keep weekly points, Sundays (weeks; 0: none)', weekly)));
  const spec = () => {
    const sched = { scheduleRunFrequency: freq.value };
    if (freq.value === 'Hourly') {
      sched.hourlySchedule = { interval: Number(interval.value), scheduleWindowStartTime: winStart.value.trim(), scheduleWindowDuration: Number(winHours.value) };
    } else {
      sched.scheduleRunTimes = times.value.split(',').map((t) => t.trim()).filter(Boolean);
      if (freq.value === 'Weekly') { sched.scheduleRunDays = [day.value]; sched.scheduleRunTimes = sched.scheduleRunTimes.slice(0, 1); }
    }
    const retention = {};
    if (freq.value !== 'Weekly') retention.dailySchedule = { retentionDuration: { count: Number(daily.value), durationType: 'Days' } };
    if (Number(weekly.value) > 0 || freq.value === 'Weekly') {
      retention.weeklySchedule = { daysOfTheWeek: [freq.value === 'Weekly' ? day.value : 'Sunday'], retentionDuration: { count: Math.max(1, Number(weekly.value)), durationType: 'Weeks' } };
    }
    const p = { timeZone: zone.value.trim(), schedulePolicy: sched, instantRpRetentionRangeInDays: Number(instant.value), retentionPolicy: retention };
    if (name.value.trim()) p.name = name.value.trim();
    return p;
  };
  return { el, spec, name };
}

async function viewPolicies(vault) {
  const body = h('div', {}, h('p.muted', { text: 'Loading…' }));
  page(`Backup policies of ${vault}`, replicaNote(), body);
  try {
    const { value } = await api('GET', `/vaults/${enc(vault)}/policies`);
    put(body, table(['Name', 'Schedule', 'Retention', 'Items'], value.map((p) => [
      p.name, describeSchedule(p), describeRetention(p), String(p.protectedItemsCount)]), 'Policies'),
    h('p.small', {}, 'New policies are made in ', h('a', { href: `#/v/${enc(vault)}/backup`, text: '+ Backup' }), '.'));
  } catch (e) { put(body, errorBox(e)); }
}

/* ---- + Backup: policy, then VMs ------------------------------------------------- */

async function viewBackup(vault) {
  const step1 = h('section.card', { 'aria-labelledby': 'b-step1' }, h('h2', { id: 'b-step1', text: '1. Backup policy' }));
  const step2 = h('section.card', { 'aria-labelledby': 'b-step2' }, h('h2', { id: 'b-step2', text: '2. Virtual machines' }));
  const result = h('div');
  page('Configure backup', replicaNote(), h('p.muted', { text: 'Choose how often and how long to keep, then the VMs to protect.' }), step1, step2, result);
  let v;
  let policies;
  let vms;
  try {
    [v, { value: policies }, { value: vms }] = await Promise.all([
      api('GET', `/vaults/${enc(vault)}`), api('GET', `/vaults/${enc(vault)}/policies`),
      api('GET', `/vaults/${enc(vault)}/protectableItems`)]);
  } catch (e) { step1.append(errorBox(e)); return; }

  /* Step 1: an existing policy (its details) or a new one (its form and preview). */
  const choice = h('select', { name: 'policy' }, policies.map((p) => h('option', { value: p.name, text: p.name })),
    h('option', { value: '', text: 'Create a new policy…' }));
  choice.value = 'DefaultPolicy';
  const details = h('div');
  const preview = h('div.preview', { 'aria-live': 'polite' });
  const form = policyForm();
  const previewBtn = h('button', { type: 'button', text: 'Preview next runs' });
  const createBtn = writable(guard(h('button.primary', { type: 'button', text: 'Create policy' }), 'Contributor'));
  const newBox = h('div', {}, form.el, h('div.buttons', {}, previewBtn, createBtn), preview);
  let shown = 0; /* the latest choice: an older answer arriving late is dropped */
  const showPolicy = async () => {
    const mine = ++shown;
    clear(preview);
    const p = policies.find((x) => x.name === choice.value);
    newBox.hidden = !!p;
    clear(details);
    if (!p) return;
    details.append(policyDetails(p));
    let extra;
    try {
      const runs = await api('GET', `/vaults/${enc(vault)}/policies/${enc(p.name)}/nextRuns?count=3`);
      extra = [h('h3', { text: 'Next runs' }), nextRunsList(runs.value, runs.timeZone)];
    } catch (e) { extra = [errorBox(e)]; }
    if (mine === shown) details.append(...extra);
  };
  choice.addEventListener('change', showPolicy);
  /* an answer about the form as it was is stale once the form changes */
  form.el.addEventListener('input', () => clear(preview));
  previewBtn.addEventListener('click', () => act(previewBtn, async () => {
    clear(preview);
    try {
      const runs = await api('POST', `/vaults/${enc(vault)}/policyPreview?count=5`, form.spec());
      preview.append(h('h3', { text: 'Next runs of this policy' }), nextRunsList(runs.value, runs.timeZone));
    } catch (e) { preview.append(errorBox(e)); }
  }));
  createBtn.addEventListener('click', () => act(createBtn, async () => {
    clear(preview);
    try {
      const p = await api('POST', `/vaults/${enc(vault)}/policies`, form.spec());
      policies.push(p);
      choice.insertBefore(h('option', { value: p.name, text: p.name }), choice.lastChild);
      choice.value = p.name;
      notify(`Policy ${p.name} created`);
      await showPolicy();
    } catch (e) { preview.append(errorBox(e)); }
  }));
  step1.append(field('Policy', choice), details, newBox);
  await showPolicy();

  /* Step 2: the VMs the hosts report; the ones that cannot be protected here say why. */
  const reason = (vm) => {
    if (vm.protectionState === 'Protected') return 'Already protected in this vault';
    if (vm.protectionState === 'ProtectedInAnotherVault') return 'Protected by another vault';
    if (vm.region !== v.location) return `In region ${vm.region}; this vault protects ${v.location}`;
    return '';
  };
  const boxes = [];
  const rows = vms.map((vm) => {
    const why = reason(vm);
    const box = h('input', { type: 'checkbox', name: 'vm', value: vm.name, disabled: !!why, 'aria-label': `Select ${vm.name} on ${vm.container}` });
    box.dataset.container = vm.container;
    boxes.push(box);
    return h(`tr${why ? '.disabled' : ''}`, {}, h('td', {}, box), h('td', { text: vm.name }), h('td', { text: vm.container }),
      h('td', { text: vm.region }), h('td', { text: vm.state }),
      h('td', { text: `${vm.disks.length} (${fmtBytes(vm.disks.reduce((a, d) => a + d.size, 0))})` }),
      h('td', {}, why ? h('span.reason', { text: why }) : badge('NotProtected')));
  });
  const enable = writable(guard(h('button.primary', { type: 'button', text: 'Enable backup' }), 'Operator'));
  enable.addEventListener('click', () => act(enable, async () => {
    const chosen = boxes.filter((b) => b.checked);
    const policy = choice.value;
    clear(result);
    if (!policy) { notify('Choose or create a policy first', 'bad'); return; }
    if (!chosen.length) { notify('Select at least one VM', 'bad'); return; }
    const lines = [];
    for (const b of chosen) {
      try {
        const r = await api('POST', `/vaults/${enc(vault)}/protectedItems`, { vm: b.value, container: b.dataset.container, policy });
        lines.push(h('li', {}, badge(r.job.status), ` ${r.job.operation} of ${b.value}: `,
          h('a', { href: `#/v/${enc(vault)}/jobs/${enc(r.job.id)}`, text: 'job' }),
          r.item.nextRun ? [' · first backup ', timeEl(r.item.nextRun)] : null));
        b.checked = false;
        b.disabled = true;
      } catch (e) {
        lines.push(h('li', {}, badge('Failed'), ` ${b.value}: ${e.code}: ${e.message}`));
      }
    }
    result.append(h('section.card', { 'aria-labelledby': 'b-res' }, h('h2', { id: 'b-res', text: 'Configure backup jobs' }),
      h('ul.plain', { 'data-testid': 'configure-results' }, lines),
      h('a', { href: `#/v/${enc(vault)}/items`, text: 'Go to the backup items →' })));
  }));
  step2.append(vms.length ? table(['', 'VM', 'Host', 'Region', 'State', 'Disks', 'Status'], rows, 'Virtual machines')
    : h('p.empty', { text: 'No host has reported VMs yet: register a host agent with vault credentials.' }),
  h('div.buttons', {}, enable));
}

/* ---- backup items --------------------------------------------------------------- */

function itemPath(vault, it) {
  return `/vaults/${enc(vault)}/protectedItems/${enc(it.name)}?container=${enc(it.container)}`;
}
function itemSub(vault, it, sub) {
  return `/vaults/${enc(vault)}/protectedItems/${enc(it.name)}/${sub}?container=${enc(it.container)}`;
}

function nextRunCell(it) {
  if (!it.nextRun) return h('span.muted', { text: '–' });
  return h('span', {}, timeEl(it.nextRun),
    it.nextRunLocal && it.timeZone ? h('small.block.muted', { text: `${it.nextRunLocal.slice(0, 16).replace('T', ' ')} ${it.timeZone}` }) : null);
}

async function backupNow(vault, it) {
  const def = new Date(Date.now() + 30 * 86400000);
  const min = new Date(Date.now() + 86400000);
  const max = new Date(Date.now() + 99 * 365 * 86400000);
  const date = h('input', { type: 'date', name: 'retainUntil', required: true, value: dateOnly(def), min: dateOnly(min), max: dateOnly(max) });
  const job = await dialog(`Back up ${it.name} now`,
    field('Retain backup till', date, 'The recovery point is kept to the end of this day (UTC); 30 days by default.'),
    'Back up', () => api('POST', itemSub(vault, it, 'backup'), { retainUntil: date.value }));
  if (job) {
    notify(`Backup of ${it.name} started`);
    location.hash = `#/v/${enc(vault)}/jobs/${enc(job.id)}`;
  }
}

async function stopProtection(vault, it) {
  const mode = h('select', { name: 'stopMode' },
    h('option', { value: 'retain', text: 'Stop, keep all recovery points' }),
    h('option', { value: 'policy', text: 'Stop, keep points as the policy says' }),
    h('option', { value: 'delete', text: 'Stop and delete the backup data' }));
  const confirm = h('input', { name: 'confirm', autocomplete: 'off' });
  const confirmBox = field(`Type ${it.name} to confirm deleting its backup data`, confirm);
  confirmBox.hidden = true;
  mode.addEventListener('change', () => { confirmBox.hidden = mode.value !== 'delete'; });
  const r = await dialog(`Stop protection of ${it.name}`, h('div', {}, field('What happens to its backups', mode), confirmBox), 'Stop protection', () => {
    if (mode.value === 'delete' && confirm.value !== it.name) throw new ApiError(0, 'NotConfirmed', `type ${it.name} to confirm`);
    return api('POST', itemSub(vault, it, 'disable'), { deleteBackupData: mode.value === 'delete', retainAsPerPolicy: mode.value === 'policy' });
  }, { danger: true });
  if (r) { notify(`Protection of ${it.name} stopped`); render(); }
}

async function resumeProtection(vault, it, button) {
  await act(button, async () => {
    await api('POST', itemSub(vault, it, 'resume'), {});
    notify(`Protection of ${it.name} resumed`);
    render();
  });
}

function itemActions(vault, it) {
  const stopped = it.protectionState === 'ProtectionStopped' || it.protectionState === 'BackupsSuspended';
  const bn = writable(guard(h('button', { type: 'button', text: 'Backup now', disabled: stopped, onclick: () => backupNow(vault, it) }), 'Operator'));
  const rp = h('a.button', { href: `#/v/${enc(vault)}/items/${enc(it.name)}?container=${enc(it.container)}`, text: 'Recovery points' });
  let sr;
  if (stopped) {
    sr = writable(guard(h('button', { type: 'button', text: 'Resume', disabled: it.deleteState === 'ToBeDeleted' }), 'Operator'));
    sr.addEventListener('click', () => resumeProtection(vault, it, sr));
  } else {
    sr = writable(guard(h('button', { type: 'button', text: 'Stop protection', onclick: () => stopProtection(vault, it) }), 'Contributor'));
  }
  return h('div.actions', {}, bn, rp, sr);
}

async function viewItems(vault) {
  const body = h('div', {}, h('p.muted', { text: 'Loading…' }));
  page(`Backup items of ${vault}`, replicaNote(), body);
  const draw = async () => {
    const { value } = await api('GET', `/vaults/${enc(vault)}/protectedItems`);
    if (!value.length) {
      put(body, h('p.empty', {}, 'No protected VM yet: ', h('a', { href: `#/v/${enc(vault)}/backup`, text: 'configure backup' }), '.'));
      return 10000;
    }
    put(body, table(['VM', 'Host', 'Policy', 'Protection', 'Last backup', 'Next backup', 'Points', 'Latest point', 'Actions'],
      value.map((it) => h('tr', { 'data-item': it.name }, h('th', { scope: 'row', text: it.name }), h('td', { text: it.container }),
        h('td', { text: it.policy || it.policyName || '–' }), h('td', {}, badge(it.protectionState)),
        h('td', {}, it.lastBackupStatus ? badge(it.lastBackupStatus) : h('span.muted', { text: 'none yet' }), ' ', it.lastBackupTime ? timeEl(it.lastBackupTime) : null),
        h('td', {}, nextRunCell(it)), h('td', { text: String(it.recoveryPointCount) }),
        h('td', {}, it.latestRecoveryPointType ? badge(it.latestRecoveryPointType) : h('span.muted', { text: '–' }), ' ', it.latestRecoveryPointTime ? timeEl(it.latestRecoveryPointTime) : null),
        h('td', {}, itemActions(vault, it)))), 'Backup items'));
    return 10000;
  };
  try { await draw(); poll(draw, 10000); } catch (e) { put(body, errorBox(e)); }
}

/* The host that runs a restore: the item's own by default; on a replica vault the
 * item's host (the primary's) is not registered, so a registered host must be chosen. */
async function targetHostSelect(vault, it) {
  const own = !vaultShown.replicaOf;
  let hosts = [];
  try {
    /* on a replica the primary's hosts are listed by name only, without an agent */
    hosts = (await api('GET', `/vaults/${enc(vault)}/containers`)).value
      .filter((c) => (own ? c.name !== it.container : !!c.agentVersion)).map((c) => c.name);
  } catch (e) {
    /* without the list the item's own host is the only choice */
  }
  const sel = h('select', { name: 'targetHost', required: !own },
    own ? h('option', { value: '', text: `${it.container} (the VM's own host)` }) : null,
    hosts.map((n) => h('option', { value: n, text: n })));
  const hint = own ? 'The registered host whose agent writes the restore.'
    : (hosts.length ? `This vault is a replica: its items name the primary region's hosts (${it.container}), which are not registered here. Choose a host of this region.`
      : 'No host is registered in this replica vault: register a host of this region with the vault\'s credentials (vmvault vault credentials), then restore.');
  return { sel, box: field('Host that runs the restore', sel, hint) };
}

async function restoreDialog(vault, it, rp) {
  const target = await targetHostSelect(vault, it);
  const mode = h('select', { name: 'restoreMode' },
    h('option', { value: 'RestoreDisks', text: 'Restore disks to a folder' }),
    h('option', { value: 'AlternateLocation', text: 'Create a new VM' }),
    h('option', { value: 'OriginalLocation', text: 'Replace the original VM (destructive)' }));
  const dir = h('input', { name: 'targetDirectory', value: '/var/lib/libvirt/images', required: true });
  const vmName = h('input', { name: 'targetVmName', placeholder: `${it.name}-restored`, autocomplete: 'off' });
  const format = h('select', { name: 'format' }, h('option', { value: '', text: 'As backed up' }), h('option', { value: 'qcow2', text: 'qcow2' }), h('option', { value: 'raw', text: 'raw' }));
  const disks = rp.disks.map((d) => h('label.check', {}, h('input', { type: 'checkbox', name: 'disk', value: d.name, checked: true }), ` ${d.name} (${fmtBytes(d.virtualSize)})`));
  const confirm = h('input', { name: 'confirm', autocomplete: 'off' });
  const dirBox = field('Target folder on the host', dir, 'On the host that runs the restore; files are named <vm>-<disk>.<format> and must not exist yet.');
  const vmBox = field('New VM name', vmName, 'Defined from the saved domain XML with a new UUID and new MAC addresses.');
  const confirmBox = h('div.warning-box', {}, h('p', {}, h('strong', { text: 'This overwrites the disks of the original VM. ' }),
    'The VM must be shut off; its current disk files are kept beside them as <file>.pre-restore-<time>.'),
  field(`Type ${it.name} to confirm`, confirm));
  const sync = () => {
    dirBox.hidden = mode.value === 'OriginalLocation';
    dir.required = mode.value !== 'OriginalLocation';
    vmBox.hidden = mode.value !== 'AlternateLocation';
    confirmBox.hidden = mode.value !== 'OriginalLocation';
  };
  mode.addEventListener('change', sync);
  sync();
  const body = h('div', {}, h('p.small', {}, `Recovery point ${rp.name}, `, timeEl(rp.time), ' · ', badge(rp.recoveryPointType)),
    field('Restore type', mode), target.box, dirBox, vmBox, field('Disk format', format),
    h('fieldset', {}, h('legend', { text: 'Disks' }), disks), confirmBox);
  const job = await dialog(`Restore ${it.name}`, body, 'Restore', () => {
    const req = { restoreMode: mode.value };
    if (target.sel.value) req.targetHost = target.sel.value;
    if (mode.value === 'OriginalLocation' && confirm.value !== it.name) throw new ApiError(0, 'NotConfirmed', `type ${it.name} to confirm replacing its disks`);
    if (mode.value !== 'OriginalLocation') req.targetDirectory = dir.value.trim();
    if (mode.value === 'AlternateLocation' && vmName.value.trim()) req.targetVmName = vmName.value.trim();
    if (format.value) req.format = format.value;
    const chosen = disks.map((l) => l.querySelector('input')).filter((b) => b.checked).map((b) => b.value);
    if (!chosen.length) throw new ApiError(0, 'NoDisk', 'choose at least one disk');
    if (chosen.length !== rp.disks.length) req.disks = chosen;
    return api('POST', `/vaults/${enc(vault)}/protectedItems/${enc(it.name)}/recoveryPoints/${enc(rp.name)}/restore?container=${enc(it.container)}`, req);
  }, { danger: false });
  if (job) {
    notify(`Restore of ${it.name} started`);
    location.hash = `#/v/${enc(vault)}/jobs/${enc(job.id)}`;
  }
}

async function viewItem(vault, name, container) {
  const body = h('div', {}, h('p.muted', { text: 'Loading…' }));
  page(`${name}`, body);
  try {
    const key = { name, container };
    const it = await api('GET', container ? itemPath(vault, key) : `/vaults/${enc(vault)}/protectedItems/${enc(name)}`);
    const { value: points } = await api('GET', itemSub(vault, it, 'recoveryPoints'));
    put(body, 
      h('section.card', {}, h('dl.kv', {},
        h('dt', { text: 'Host' }), h('dd', { text: it.container }),
        h('dt', { text: 'Policy' }), h('dd', { text: it.policy || it.policyName || '–' }),
        h('dt', { text: 'Protection' }), h('dd', {}, badge(it.protectionState), it.deleteState === 'ToBeDeleted' ? [' soft deleted, purged ', timeEl(it.purgeAt)] : null),
        h('dt', { text: 'Last backup' }), h('dd', {}, it.lastBackupStatus ? badge(it.lastBackupStatus) : 'none yet', ' ', it.lastBackupTime ? timeEl(it.lastBackupTime) : null),
        h('dt', { text: 'Next backup' }), h('dd', {}, nextRunCell(it)),
        h('dt', { text: 'Consistency settings' }), h('dd', { text: it.scriptSettingsSource })),
      itemActions(vault, it)),
      h('h2', { text: `Recovery points (${points.filter((rp) => !rp.softDeleted).length}${points.some((rp) => rp.softDeleted) ? `, ${points.filter((rp) => rp.softDeleted).length} soft deleted` : ''})` }),
      points.length ? table(['Time', 'Consistency', 'Kind', 'Kept until', 'Kept by', 'Disks', ''],
        points.map((rp) => h('tr', { 'data-point': rp.name, 'data-soft-deleted': rp.softDeleted ? 'true' : 'false' }, h('td', {}, timeEl(rp.time)), h('td', {}, badge(rp.recoveryPointType)),
          h('td', { text: rp.kind }),
          h('td', {}, rp.softDeleted ? [badge('SoftDeleted'), ' purged ', rp.purgeAt ? timeEl(rp.purgeAt) : 'soon'] : rp.expiresAt ? timeEl(rp.expiresAt) : 'forever'),
          h('td', { text: (rp.retainedBy || []).join(', ') }),
          h('td', { text: rp.disks.map((d) => `${d.name} ${fmtBytes(d.virtualSize)}`).join(', ') }),
          h('td', {}, rp.softDeleted
            ? h('span.muted', { text: 'soft deleted: undelete it to restore (vmvault recoverypoint undelete)' })
            : guard(h('button', { type: 'button', text: 'Restore', onclick: () => restoreDialog(vault, it, rp) }), 'Operator')))), 'Recovery points')
        : h('p.empty', { text: 'No recovery point yet: run Backup now.' }));
  } catch (e) { put(body, errorBox(e)); }
}

/* ---- backup jobs ---------------------------------------------------------------- */

const ACTIVE = ['InProgress', 'Cancelling'];

function progressCell(j) {
  if (!ACTIVE.includes(j.status)) return j.status === 'Completed' || j.status === 'CompletedWithWarnings' ? '100%' : '–';
  const pct = j.progressPercent || 0;
  const bits = [`${pct}%`];
  if (j.bytesTotal) bits.push(`${fmtBytes(j.bytesDone)} of ${fmtBytes(j.bytesTotal)}`);
  if (j.throughputBytesPerSecond) bits.push(`${fmtBytes(j.throughputBytesPerSecond)}/s`);
  if (j.remainingSeconds !== null && j.remainingSeconds !== undefined) bits.push(`${fmtSeconds(j.remainingSeconds)} left`);
  return h('div.progress', {},
    h('div.phase', { text: j.phase || j.status }),
    h('progress', { max: 100, value: pct, 'aria-label': `Progress of ${j.operation} ${j.item || ''}`, 'data-testid': 'job-progress' }),
    h('small', { 'data-testid': 'job-progress-text', text: bits.join(' · ') }));
}

function duration(j) {
  const s = parseTime(j.startTime);
  const e = parseTime(j.endTime) || new Date();
  return s ? fmtSeconds((e - s) / 1000) : '–';
}

async function viewJobs(vault, query) {
  const q = new URLSearchParams(query);
  const status = h('select', { name: 'status' }, h('option', { value: '', text: 'Any' }),
    ['InProgress', 'Completed', 'CompletedWithWarnings', 'Failed', 'Cancelling', 'Cancelled'].map((s) => h('option', { value: s, text: s })));
  const op = h('select', { name: 'operation' }, h('option', { value: '', text: 'Any' }),
    ['Backup', 'Restore', 'ConfigureBackup', 'DisableBackup', 'DeleteBackupData', 'Undelete', 'Prune', 'GarbageCollection', 'Replication', 'Verify'].map((s) => h('option', { value: s, text: s })));
  const item = h('input', { name: 'item', autocomplete: 'off' });
  const from = h('input', { name: 'startDate', type: 'date' });
  const to = h('input', { name: 'endDate', type: 'date' });
  status.value = q.get('status') || '';
  op.value = q.get('operation') || '';
  item.value = q.get('item') || '';
  from.value = q.get('startDate') || '';
  to.value = q.get('endDate') || '';
  const filters = h('form.card.filters', { 'aria-label': 'Filter jobs' },
    h('div.row', {}, field('Status', status), field('Operation', op), field('Item', item), field('Started from', from), field('Started until', to)));
  const apply = () => {
    const p = new URLSearchParams();
    for (const [k, el] of [['status', status], ['operation', op], ['item', item], ['startDate', from], ['endDate', to]]) if (el.value) p.set(k, el.value.trim());
    const s = p.toString();
    history.replaceState(null, '', `#/v/${enc(vault)}/jobs${s ? `?${s}` : ''}`);
    return s;
  };
  filters.addEventListener('change', () => { apply(); refresh(); });
  filters.addEventListener('submit', (ev) => { ev.preventDefault(); apply(); refresh(); });
  const list = h('div', { 'aria-live': 'off' }, h('p.muted', { text: 'Loading…' }));
  page(`Backup jobs of ${vault}`, filters, list);
  const refresh = async () => {
    const s = apply();
    const { value } = await api('GET', `/vaults/${enc(vault)}/jobs${s ? `?${s}` : ''}`);
    put(list, value.length ? table(['Operation', 'Item', 'Status', 'Started', 'Duration', 'Progress', ''],
      value.map((j) => h('tr', { 'data-job': j.id }, h('td', { text: j.operation }), h('td', { text: j.item || '–' }),
        h('td', {}, badge(j.status)), h('td', {}, timeEl(j.startTime)), h('td', { text: duration(j) }),
        h('td', {}, progressCell(j)), h('td', {}, h('a', { href: `#/v/${enc(vault)}/jobs/${enc(j.id)}`, text: 'Details', 'aria-label': `Details of ${j.operation} ${j.item || ''}` })))), 'Jobs')
      : h('p.empty', { text: 'No job matches these filters.' }));
    return value.some((j) => ACTIVE.includes(j.status)) ? 1000 : 5000;
  };
  try { poll(refresh, await refresh()); } catch (e) { put(list, errorBox(e)); }
}

/* Labels of the stats of jobs other than backups (replication, verify, prune, GC). */
const STAT_LABELS = {
  bytesSent: 'Sent to the secondary', chunksSent: 'Chunks sent', chunksPresent: 'Chunks the secondary had already',
  seconds: 'Duration', points: 'Recovery points read', chunks: 'Chunks read', bytes: 'Bytes read', damaged: 'Damaged',
};

function otherStats(s) {
  const text = (k, v) => {
    if (v !== null && typeof v === 'object') return JSON.stringify(v);
    if (k === 'seconds') return fmtSeconds(v);
    return /bytes/i.test(k) ? fmtBytes(v) : String(v);
  };
  return h('dl.kv', { 'data-testid': 'job-stats' }, Object.entries(s).map(([k, v]) => [
    h('dt', { text: STAT_LABELS[k] || k }), h('dd', { text: text(k, v) })]).flat());
}

function statsList(s) {
  if (!s) return null;
  if (s.chunksRead === undefined) return otherStats(s);
  const rows = [
    ['Read from the disks', fmtBytes(s.bytesRead)], ['Sent to the vault', fmtBytes(s.bytesSent)],
    ['New in the vault', fmtBytes(s.bytesNew)],
    ['Chunks read / new / deduplicated / zero / kept from the parent', `${s.chunksRead} / ${s.chunksNew} / ${s.chunksDeduplicated} / ${s.chunksZero} / ${s.chunksKept}`],
  ];
  if (s.chunkSize) rows.push(['Deduplicated', fmtBytes(s.chunksDeduplicated * s.chunkSize)]);
  rows.push(['Incremental', s.incremental ? 'yes (only changed blocks read)' : 'no (full read)']);
  return h('dl.kv', { 'data-testid': 'job-stats' }, rows.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })]).flat());
}

async function viewJob(vault, id) {
  const body = h('div', {}, h('p.muted', { text: 'Loading…' }));
  page('Job', body);
  const cancel = guard(h('button.danger', { type: 'button', text: 'Cancel job' }), 'Operator');
  cancel.addEventListener('click', () => act(cancel, async () => {
    await api('POST', `/vaults/${enc(vault)}/jobs/${enc(id)}/cancel`, {});
    notify('Cancel requested');
  }));
  const draw = async () => {
    const j = await api('GET', `/vaults/${enc(vault)}/jobs/${enc(id)}`);
    document.querySelector('main h1').textContent = `${j.operation}${j.item ? ` of ${j.item}` : ''}`;
    const active = ACTIVE.includes(j.status);
    cancel.hidden = !active;
    const tasks = table(['Sub-task', 'Status', 'Started', 'Duration'], (j.tasks || []).map((t) => [
      t.name, badge(t.status), timeEl(t.startTime), t.startTime ? duration(t) : '–']), 'Sub-tasks');
    const snap = j.snapshot ? h('dl.kv', {},
      h('dt', { text: 'Consistency' }), h('dd', {}, badge(j.snapshot.recoveryPointType)),
      h('dt', { text: 'Guest agent' }), h('dd', { text: j.snapshot.guestAgent || '–' }),
      j.snapshot.fsFreeze ? [h('dt', { text: 'Freeze' }), h('dd', { text: `${j.snapshot.fsFreeze.status}${j.snapshot.fsFreeze.milliseconds !== undefined ? `, ${j.snapshot.fsFreeze.milliseconds} ms` : ''}` })] : null) : null;
    put(body, 
      h('section.card', {}, h('div.job-head', {}, badge(j.status), active ? progressCell(j) : null, cancel),
        h('dl.kv', {},
          h('dt', { text: 'Item' }), h('dd', { text: j.item ? `${j.item} on ${j.container}` : '–' }),
          h('dt', { text: 'Started' }), h('dd', {}, timeEl(j.startTime), ` by ${j.createdBy}`, j.trigger ? ` (${j.trigger})` : ''),
          h('dt', { text: 'Ended' }), h('dd', {}, timeEl(j.endTime)),
          h('dt', { text: 'Duration' }), h('dd', { text: duration(j) }),
          j.bytesTotal ? [h('dt', { text: 'Data' }), h('dd', { text: `${fmtBytes(j.bytesDone)} of ${fmtBytes(j.bytesTotal)}${j.throughputBytesPerSecond ? ` at ${fmtBytes(j.throughputBytesPerSecond)}/s` : ''}` })] : null,
          j.retainUntil ? [h('dt', { text: 'Retain until' }), h('dd', {}, timeEl(j.retainUntil))] : null,
          j.recoveryPoint ? [h('dt', { text: 'Recovery point' }), h('dd', {}, h('a', { href: `#/v/${enc(vault)}/items/${enc(j.item)}?container=${enc(j.container)}`, text: j.recoveryPoint }))] : null,
          j.note ? [h('dt', { text: 'Note' }), h('dd', { text: j.note })] : null)),
      j.error ? h('section.card.error', { role: 'alert' }, h('h2', { text: 'Error' }), h('p', {}, h('strong', { text: j.error.code }), `: ${j.error.message}`), remedy(j.error.code)) : null,
      j.warnings && j.warnings.length ? h('section.card.warn', {}, h('h2', { text: 'Warnings' }),
        h('ul', {}, j.warnings.map((w) => h('li', {}, h('strong', { text: w.code }), `: ${w.message}`, remedy(w.code))))) : null,
      h('h2', { text: 'Sub-tasks' }), tasks,
      j.stats ? [h('h2', { text: 'Data' }), statsList(j.stats)] : null,
      snap ? [h('h2', { text: 'Snapshot' }), snap] : null);
    return active ? 1000 : 0;
  };
  try {
    const next = await draw();
    if (next) poll(async () => { const n = await draw(); return n || 3600000; }, next);
  } catch (e) { put(body, errorBox(e)); }
}

/* ---- vault properties ----------------------------------------------------------- */

async function viewProperties(vault) {
  const body = h('div', {}, h('p.muted', { text: 'Loading…' }));
  page(`Properties of ${vault}`, body);
  try {
    const [v, p] = await Promise.all([api('GET', `/vaults/${enc(vault)}`), api('GET', `/vaults/${enc(vault)}/backupProperties`)]);
    const red = h('select', { name: 'storageRedundancy', disabled: p.storageRedundancyLocked },
      h('option', { value: 'GeoRedundant', text: 'Geo-redundant (GRS)' }), h('option', { value: 'LocallyRedundant', text: 'Locally redundant (LRS)' }));
    red.value = p.storageRedundancy;
    const why = p.storageRedundancyLocked
      ? `Locked: the vault protects ${v.protectedItemCount} item(s). Storage redundancy can change only while nothing is protected: stop protection of every item, deleting its data, or use a new vault.`
      : 'Can be changed while the vault protects no item.';
    const sdState = h('select', { name: 'softDeleteState' }, h('option', { value: 'Enabled', text: 'Enabled' }), h('option', { value: 'Disabled', text: 'Disabled' }));
    sdState.value = p.softDelete.state;
    const sdDays = h('input', { name: 'softDeleteDays', type: 'number', min: 14, max: 180, value: p.softDelete.retentionDays });
    const save = writable(guard(h('button.primary', { type: 'submit', text: 'Save' }), 'Contributor'));
    const form = h('form.card', { 'aria-label': 'Backup properties' },
      h('dl.kv', {}, h('dt', { text: 'Location' }), h('dd', { text: v.location }), h('dt', { text: 'Vault id' }), h('dd', { text: v.id }),
        h('dt', { text: 'Created' }), h('dd', {}, timeEl(v.createdAt))),
      field('Storage redundancy', red, why),
      h('div.row', {}, field('Soft delete', sdState, 'Deleted backup data is kept this many days, and can be undeleted meanwhile.'), field('Soft delete days (14 to 180)', sdDays)),
      h('div.buttons', {}, save));
    const repl = p.replication ? h('section.card', { 'aria-labelledby': 'pr-repl', 'data-testid': 'properties-replication' },
      h('h2', { id: 'pr-repl', text: 'Replication' }), h('p', {}, h('span.sr-only', { text: 'State: ' }), badge(p.replication.state)),
      p.replication.reason ? h('p.small', { text: p.replication.reason }) : null,
      replicationDetails(p.replication, new Date())) : null;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(save, async () => {
        const patch = { softDelete: { state: sdState.value, retentionDays: Number(sdDays.value) } };
        if (!p.storageRedundancyLocked && red.value !== p.storageRedundancy) patch.storageRedundancy = red.value;
        await api('PATCH', `/vaults/${enc(vault)}/backupProperties`, patch);
        notify('Backup properties saved');
        render();
      });
    });
    put(body, replicaNote(), form, repl);
  } catch (e) { put(body, errorBox(e)); }
}

/* ---- pairing -------------------------------------------------------------------- */

const PEER_ROLES = {
  Secondary: 'this server replicates its GeoRedundant vaults to it',
  Primary: 'it replicates its vaults to this server (replica vaults)',
};

function pairingRow(p, now) {
  return h('tr', { 'data-peer-role': p.role },
    h('th', { scope: 'row' }, h('span', { text: p.role }), h('small.block.muted', { text: PEER_ROLES[p.role] || '' })),
    h('td', { text: p.peerName || '–' }), h('td', { text: p.region || '–' }),
    h('td', {}, p.url || h('span.muted', { text: '–' }), p.certificatePin ? h('small.block.muted', { title: 'The pinned TLS key of the secondary', text: p.certificatePin }) : null),
    h('td', {}, badge(p.state), p.lastError ? h('small.block.reason', { text: p.lastError }) : null),
    h('td', {}, p.lastContact ? [timeEl(p.lastContact), h('small.block.muted', { text: ago(p.lastContact, now) })] : h('span.muted', { text: 'never' })),
    h('td', { text: p.maxReplicationRate ? fmtRate(p.maxReplicationRate) : 'no limit' }),
    h('td', { text: p.replicationWindow ? `${p.replicationWindow} UTC` : 'always' }),
    h('td', {}, timeEl(p.created), p.createdBy ? h('small.block.muted', { text: `by ${p.createdBy}` }) : null));
}

/* The pairings of this server, read-only: they change with "vmvault pairing" (Owner). */
async function viewPairing() {
  setNav(null);
  setCrumbs([{ text: 'Vaults', href: '#/vaults' }, { text: 'Pairing' }]);
  const body = h('div', { 'data-testid': 'pairing' }, h('p.muted', { text: 'Loading…' }));
  page('Pairing', h('p.muted', { text: 'The vault servers this one is paired with for replication. Pair, change the rate limit or window, and unpair with "vmvault pairing" as an Owner.' }), body);
  const draw = async () => {
    const { value } = await api('GET', '/pairing');
    put(body, value.length ? table(['Peer role', 'Peer', 'Region', 'URL', 'State', 'Last contact', 'Rate limit', 'Window', 'Created'],
      value.map((p) => pairingRow(p, new Date())), 'Pairings')
      : h('div.card', {}, h('p.empty', { text: 'This server is not paired: its GeoRedundant vaults keep one copy.' }),
        h('p.small', { text: 'To replicate them: on the secondary vault server run "vmvault pairing invite --out invitation.json", then on this server "vmvault pairing create --invitation invitation.json".' })));
    return 10000;
  };
  try { await draw(); poll(draw, 10000); } catch (e) { put(body, errorBox(e)); }
}

/* ---- routing -------------------------------------------------------------------- */

async function render() {
  stopPolling();
  viewSeq += 1;
  document.querySelectorAll('dialog').forEach((d) => { d.close(); d.remove(); });
  const hash = location.hash.replace(/^#/, '') || '/vaults';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);

  if (!sessionStorage.getItem(TOKEN_KEY)) {
    document.getElementById('signout').hidden = true;
    document.getElementById('pairing-link').hidden = true;
    clear(document.getElementById('who'));
    viewSignIn();
    return;
  }
  if (!session.role) {
    try {
      const me = await api('GET', '/whoami');
      session.user = me.user;
      session.role = me.role;
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      viewSignIn();
      return;
    }
  }
  document.getElementById('signout').hidden = false;
  const pl = document.getElementById('pairing-link');
  pl.hidden = false;
  if (parts[0] === 'pairing') pl.setAttribute('aria-current', 'page'); else pl.removeAttribute('aria-current');
  clear(document.getElementById('who')).append(h('span', { text: session.user }), ' ', h('span.badge.role', { 'data-testid': 'role', text: session.role }));
  if (parts[0] === 'signin') { location.hash = '#/vaults'; return; }

  if (parts[0] === 'v' && parts[1]) {
    const vault = parts[1];
    const sub = parts[2] || 'overview';
    const seq = viewSeq;
    await loadVault(vault);
    if (seq !== viewSeq) return;
    setNav(vault, sub);
    const crumbs = [{ text: 'Vaults', href: '#/vaults' }, { text: vault, href: `#/v/${enc(vault)}/overview` }];
    const q = new URLSearchParams(query || '');
    switch (sub) {
      case 'overview': setCrumbs(crumbs.concat({ text: 'Overview' })); return viewOverview(vault);
      case 'backup': setCrumbs(crumbs.concat({ text: 'Configure backup' })); return viewBackup(vault);
      case 'policies': setCrumbs(crumbs.concat({ text: 'Backup policies' })); return viewPolicies(vault);
      case 'properties': setCrumbs(crumbs.concat({ text: 'Properties' })); return viewProperties(vault);
      case 'items':
        if (parts[3]) {
          setCrumbs(crumbs.concat({ text: 'Backup items', href: `#/v/${enc(vault)}/items` }, { text: parts[3] }));
          return viewItem(vault, parts[3], q.get('container'));
        }
        setCrumbs(crumbs.concat({ text: 'Backup items' }));
        return viewItems(vault);
      case 'jobs':
        if (parts[3]) {
          setCrumbs(crumbs.concat({ text: 'Backup jobs', href: `#/v/${enc(vault)}/jobs` }, { text: 'Job' }));
          return viewJob(vault, parts[3]);
        }
        setCrumbs(crumbs.concat({ text: 'Backup jobs' }));
        return viewJobs(vault, query || '');
      default: break;
    }
  }
  vaultShown.vault = null;
  vaultShown.replicaOf = null;
  if (parts[0] === 'pairing') return viewPairing();
  if (parts[0] !== 'vaults') { location.hash = '#/vaults'; return; }
  return viewVaults();
}

function start() {
  document.getElementById('zone').textContent = `Your zone: ${BROWSER_ZONE}`;
  document.getElementById('signout').addEventListener('click', () => signOut());
  window.addEventListener('hashchange', () => {
    render();
    document.getElementById('main').focus({ preventScroll: true });
  });
  render();
}

start();
