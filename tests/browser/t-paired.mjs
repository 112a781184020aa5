// t-paired.mjs: the primary of a real pairing (the secondary another vmvaultd that
// t0700 started): the vault's replication card says Healthy with the secondary's
// region, no lag, nothing pending and the last replication time; its Replication job
// is listed with its data; the Pairing view shows the secondary, connected.
//   VV_TOKEN the owner's token; VV_VAULT the GeoRedundant vault, replicated;
//   VV_REGION the secondary's region.
import { open, signIn, check, expect, shot, done, apiGet, URL } from './lib.mjs';

const ctx = await open();
const { page } = ctx;
const { VV_TOKEN: token, VV_VAULT: vault, VV_REGION: region } = process.env;
const text = async (id) => (await page.getByTestId(id).textContent()).trim();

await signIn(page, token);
await check('the card shows Healthy, the secondary region, no lag and nothing pending', async () => {
  const r = (await apiGet(`/vaults/${vault}/overview`, token)).replication;
  expect(r.role === 'Primary' && r.state === 'Healthy' && r.replicationLagSeconds === 0, `the API says ${JSON.stringify(r)}`);
  await page.goto(`${URL}/#/v/${vault}/overview`);
  const card = page.getByTestId('replication-card');
  await card.waitFor();
  expect(await card.getAttribute('data-state') === 'Healthy', `card state ${await card.getAttribute('data-state')}`);
  expect((await card.locator('.badge').first().getAttribute('class')).includes('ok'), 'the Healthy badge is not green');
  expect(await text('repl-region') === region, await text('repl-region'));
  expect((await text('repl-lag')).startsWith('0 s'), await text('repl-lag'));
  expect(await text('repl-pending') === '0 points, 0 B', await text('repl-pending'));
  expect(await page.getByTestId('repl-reason').count() === 0, 'a Healthy vault shows a reason');
});
await check('the last replication time is shown, absolute and relative', async () => {
  const r = (await apiGet(`/vaults/${vault}/overview`, token)).replication;
  const t = page.getByTestId('repl-last').locator('time');
  expect(await t.getAttribute('datetime') === r.lastReplicatedTime, `${await t.getAttribute('datetime')} != ${r.lastReplicatedTime}`);
  expect(/ago\)$|just now\)$/.test(await text('repl-last')), await text('repl-last'));
  expect(await page.locator('li[data-alert^="Replication"]').count() === 0, 'a replication alert is shown');
});
await shot(page, '19-replication-healthy');
await check('Replication jobs: the point\'s job, Completed, with what it sent', async () => {
  await page.getByRole('link', { name: 'Replication jobs →' }).click();
  const row = page.locator('tr[data-job]').filter({ hasText: 'Replication' }).first();
  await row.waitFor();
  expect(/Completed/.test(await row.textContent()), await row.textContent());
  const id = await row.getAttribute('data-job');
  await row.getByRole('link', { name: /^Details/ }).click();
  const j = await apiGet(`/vaults/${vault}/jobs/${id}`, token);
  expect(j.operation === 'Replication' && j.recoveryPoint && j.stats, JSON.stringify(j));
  await page.getByRole('heading', { name: `Replication of ${j.item}` }).waitFor();
  const tasks = await page.getByRole('table', { name: 'Sub-tasks' }).textContent();
  for (const t of j.tasks) expect(tasks.includes(t.name), `task ${t.name} is not shown: ${tasks}`);
  await page.getByTestId('job-stats').filter({ hasText: 'Sent to the secondary' }).waitFor();
  expect(!/undefined|NaN/.test(await text('job-stats')), await text('job-stats'));
  expect((await page.getByRole('link', { name: j.recoveryPoint }).count()) === 1, 'the point is not linked');
});
await shot(page, '20-replication-job');
await check('Pairing: the secondary, its region and URL, connected', async () => {
  const p = (await apiGet('/pairing', token)).value;
  expect(p.length === 1 && p[0].role === 'Secondary', JSON.stringify(p));
  await page.goto(`${URL}/#/pairing`);
  const row = page.locator('tr[data-peer-role="Secondary"]');
  await row.waitFor();
  const t = await row.textContent();
  expect(t.includes(region) && t.includes(p[0].url) && t.includes(p[0].state) && t.includes('no limit') && t.includes('always'), t);
});
await shot(page, '21-pairing-primary');
await done(ctx);
