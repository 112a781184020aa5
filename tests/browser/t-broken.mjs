// t-broken.mjs: the primary once its secondary has stopped and a new point waits: the
// replication card shows the state the API gives (Broken, or Lagging) with its reason
// and what is pending, the overview lists the replication alert, and the Pairing view
// shows the secondary's state and last error.
//   VV_TOKEN the owner's token; VV_VAULT the GeoRedundant vault.
import { open, signIn, check, expect, shot, done, apiGet, URL } from './lib.mjs';

const ctx = await open();
const { page } = ctx;
const { VV_TOKEN: token, VV_VAULT: vault } = process.env;
const text = async (id) => (await page.getByTestId(id).textContent()).trim();

await signIn(page, token);
const o = await apiGet(`/vaults/${vault}/overview`, token);
const r = o.replication;
await page.goto(`${URL}/#/v/${vault}/overview`);
await check('the card shows the API\'s state, in red or amber, with its reason', async () => {
  expect(['Broken', 'Lagging'].includes(r.state) && r.reason, `the API says ${JSON.stringify(r)}`);
  const card = page.getByTestId('replication-card');
  await card.waitFor();
  expect(await card.getAttribute('data-state') === r.state, `card ${await card.getAttribute('data-state')}`);
  const cls = await card.locator('.badge').first().getAttribute('class');
  expect(cls.includes(r.state === 'Broken' ? 'bad' : 'warn'), `${r.state} badge is ${cls}`);
  expect(await text('repl-reason') === r.reason.trim(), `card: ${await text('repl-reason')}`);
});
await check('the card shows the point waiting', async () => {
  expect(r.pendingPoints >= 1, `the API says ${r.pendingPoints} pending`);
  expect((await text('repl-pending')).startsWith(`${r.pendingPoints} point`), await text('repl-pending'));
});
await check('the replication alert is listed with its message and a link to the pairing', async () => {
  const a = o.alerts.find((x) => /^Replication/.test(x.code));
  expect(a, `no replication alert in ${JSON.stringify(o.alerts)}`);
  const li = page.locator(`li[data-alert="${a.code}"]`);
  await li.filter({ hasText: a.message }).waitFor();
  expect(await li.getByRole('link', { name: 'pairing' }).count() === 1, 'no link to the pairing');
});
await shot(page, '25-replication-broken');
await check('Pairing: the secondary\'s state and last error, as the API gives them', async () => {
  const p = (await apiGet('/pairing', token)).value[0];
  await page.goto(`${URL}/#/pairing`);
  const row = page.locator('tr[data-peer-role="Secondary"]');
  await row.waitFor();
  const t = await row.textContent();
  expect(t.includes(p.state) && (!p.lastError || t.includes(p.lastError)), `${t} / API ${JSON.stringify(p)}`);
});
await shot(page, '26-pairing-unreachable');
await done(ctx);
