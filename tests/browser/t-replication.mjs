// t-replication.mjs: the replication card of an unpaired server, as the API states it:
// a GeoRedundant vault says NotConfigured with the server's reason, its lag and what
// is pending; a LocallyRedundant vault (created from the page) says NotReplicated;
// the overview's alerts are all shown; the Pairing view says the server is unpaired.
//   VV_TOKEN the owner's token; VV_VAULT a GeoRedundant vault without points;
//   VV_LRS_VAULT the LocallyRedundant vault to create.
import { open, signIn, check, expect, shot, done, apiGet, URL } from './lib.mjs';

const ctx = await open();
const { page } = ctx;
const { VV_TOKEN: token, VV_VAULT: vault, VV_LRS_VAULT: lrs } = process.env;

// The page's duration format (app.js fmtSeconds): "0 s", "4 min 10 s", "2 h 5 min",
// "1 h", "3 d 4 h".
function seconds(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  const hours = `${Math.floor((s % 86400) / 3600)} h`;
  const min = Math.floor((s % 3600) / 60);
  if (s < 86400) return min ? `${hours} ${min} min` : hours;
  return `${Math.floor(s / 86400)} d ${hours}`;
}
const text = async (id) => (await page.getByTestId(id).textContent()).trim();

await signIn(page, token);
const o = await apiGet(`/vaults/${vault}/overview`, token);
await page.goto(`${URL}/#/v/${vault}/overview`);
await check('a GeoRedundant vault without a pairing: the card shows NotConfigured and the server\'s reason', async () => {
  const r = o.replication;
  expect(r && r.state === 'NotConfigured', `the API says ${JSON.stringify(r)}`);
  expect(/vmvault pairing create/.test(r.reason || ''), `the API's reason does not name the remedy: ${r.reason}`);
  const card = page.getByTestId('replication-card');
  await card.waitFor();
  expect(await card.getAttribute('data-state') === 'NotConfigured', `card state ${await card.getAttribute('data-state')}`);
  expect(await text('repl-state') === 'State: NotConfigured', await text('repl-state'));
  expect(await text('repl-reason') === r.reason.trim(), `card: ${await text('repl-reason')}`);
  const badgeClass = await card.locator('.badge').first().getAttribute('class');
  expect(badgeClass.includes('muted'), `NotConfigured badge is ${badgeClass}`);
});
await check('the card shows the lag and what is pending as the API gives them', async () => {
  const r = o.replication || {};
  expect(typeof r.replicationLagSeconds === 'number' && typeof r.pendingPoints === 'number', JSON.stringify(r));
  const lag = `${seconds(r.replicationLagSeconds)}${r.lagAlertSeconds ? ` (alert above ${seconds(r.lagAlertSeconds)})` : ''}`;
  expect(await text('repl-lag') === lag, `card: ${await text('repl-lag')}, expected ${lag}`);
  expect((await text('repl-pending')).startsWith(`${r.pendingPoints} point`), `card: ${await text('repl-pending')}`);
  expect(await page.getByTestId('repl-last').count() === (r.lastReplicatedTime ? 1 : 0), 'last replicated time shown for a vault never replicated');
});
await check('every alert of the overview is listed with its code and message', async () => {
  for (const a of o.alerts) {
    const li = page.locator(`li[data-alert="${a.code}"]`).filter({ hasText: a.message });
    expect(await li.count() >= 1, `alert ${a.code} is not shown`);
  }
  const codes = o.alerts.map((a) => a.code);
  expect(codes.includes('ReplicationNotConfigured'), `the API's alerts: ${codes}`);
  await page.getByRole('heading', { name: `Alerts (${o.alerts.length})`, exact: true }).waitFor();
  expect(await page.locator('li[data-alert="ReplicationNotConfigured"]').getByRole('link', { name: 'pairing' }).count() === 1, 'no link to the pairing');
});
await check('the vault is not a replica: no replica mark, no read-only note', async () => {
  await page.goto(`${URL}/#/v/${vault}/overview`);
  await page.getByTestId('vault-head').waitFor();
  expect(await page.getByTestId('replica-note').count() === 0 && await page.getByTestId('nav-replica').count() === 0, 'marked as a replica');
  expect(!/replica/.test(await text('vault-head')), await text('vault-head'));
});
await shot(page, '16-replication-not-configured');

await check(`create a LocallyRedundant vault ${lrs}: its card says NotReplicated`, async () => {
  await page.goto(`${URL}/#/vaults`);
  await page.getByLabel('Name', { exact: true }).fill(lrs);
  await page.getByLabel('Storage redundancy').selectOption('LocallyRedundant');
  await page.getByRole('button', { name: 'Create vault' }).click();
  await page.getByRole('heading', { name: `Overview of ${lrs}` }).waitFor();
  const r = (await apiGet(`/vaults/${lrs}/overview`, token)).replication;
  expect(r && r.state === 'NotReplicated' && r.role === 'None', `the API says ${JSON.stringify(r)}`);
  const card = page.getByTestId('replication-card');
  await card.waitFor();
  await page.getByRole('heading', { name: 'Replication (LRS)', exact: true }).waitFor();
  expect(await text('repl-state') === 'State: NotReplicated', await text('repl-state'));
  if (r.reason) expect(await text('repl-reason') === r.reason.trim(), `card: ${await text('repl-reason')}`);
  expect(await page.getByTestId('repl-lag').count() === 0, 'a vault that replicates nothing shows a lag');
});
await shot(page, '17-replication-lrs');
await check('the vault list shows both vaults, neither marked as a replica', async () => {
  await page.goto(`${URL}/#/vaults`);
  for (const v of [vault, lrs]) await page.locator(`tr[data-vault="${v}"]`).waitFor();
  expect(await page.locator(`tr[data-vault="${lrs}"]`).filter({ hasText: 'LocallyRedundant' }).count() === 1, 'LRS not shown');
  expect(await page.getByText(/^Replica of/).count() === 0, 'a vault is marked as a replica');
});
await check('Pairing: an unpaired server says so and how to pair', async () => {
  const p = await apiGet('/pairing', token);
  expect(Array.isArray(p.value) && p.value.length === 0, JSON.stringify(p));
  await page.getByRole('link', { name: 'Pairing', exact: true }).click();
  await page.getByRole('heading', { name: 'Pairing', exact: true }).waitFor();
  await page.getByTestId('pairing').filter({ hasText: 'This server is not paired' }).filter({ hasText: 'vmvault pairing invite' }).waitFor();
});
await shot(page, '18-pairing-none');
await done(ctx);
