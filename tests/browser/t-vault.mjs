// t-vault.mjs: sign in with the owner's token, create a vault, see its overview.
//   VV_TOKEN the owner's token; VV_VAULT the vault to create (location westeurope).
import { open, signIn, check, expect, shot, done, apiGet, URL } from './lib.mjs';

const ctx = await open();
const { page } = ctx;
const vault = process.env.VV_VAULT;

await check('a wrong token is refused at sign-in', async () => {
  await page.goto(`${URL}/`);
  await page.getByLabel('User token').fill('vvt_00000000_nope');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Unauthenticated' }).waitFor();
});
await check('sign in with the owner token', async () => {
  await signIn(page, process.env.VV_TOKEN);
  expect(await page.getByTestId('role').textContent() === 'Owner', 'role is not Owner');
});
await check('the token is kept in sessionStorage only', async () => {
  const s = await page.evaluate(() => [sessionStorage.getItem('vmvault.token'), localStorage.length, document.cookie]);
  expect(s[0] === process.env.VV_TOKEN && s[1] === 0 && s[2] === '', JSON.stringify(s));
});
await check(`create vault ${vault}`, async () => {
  await page.getByLabel('Name', { exact: true }).fill(vault);
  await page.getByLabel('Location').fill('westeurope');
  await page.getByRole('button', { name: 'Create vault' }).click();
  await page.getByRole('heading', { name: `Overview of ${vault}` }).waitFor();
});
await check('the overview shows items by health, jobs, storage, replication and alerts', async () => {
  const alerts = (await apiGet(`/vaults/${vault}/overview`, process.env.VV_TOKEN)).alerts.length;
  for (const t of ['Protected items (0)', 'Jobs in the last 24 hours (0)', 'Storage', 'Replication (GRS)', `Alerts (${alerts})`]) {
    await page.getByRole('heading', { name: t, exact: true }).waitFor();
  }
});
await shot(page, '01-vault-overview');
await check('the vault is listed with its location', async () => {
  await page.getByRole('link', { name: 'vmvault' }).click();
  const row = page.getByRole('row').filter({ hasText: vault });
  await row.filter({ hasText: 'westeurope' }).waitFor();
});
await check('properties: redundancy is editable while nothing is protected', async () => {
  await page.goto(`${URL}/#/v/${vault}/properties`);
  const sel = page.getByLabel('Storage redundancy');
  await sel.waitFor();
  expect(await sel.isEnabled(), 'the control is disabled');
});
await shot(page, '02-vault-properties');
await done(ctx);
