// t-reader.mjs: a Reader sees everything and can change nothing: the buttons that
// act are disabled and say why, and the server refuses what gets through.
//   VV_TOKEN a Reader's token; VV_VAULT the vault; VV_VM its protected VM.
import { open, signIn, check, expect, shot, done, URL } from './lib.mjs';

const ctx = await open();
const { page } = ctx;
const { VV_TOKEN: token, VV_VAULT: vault, VV_VM: vm } = process.env;

await check('a Reader signs in', async () => {
  await signIn(page, token);
  expect(await page.getByTestId('role').textContent() === 'Reader', 'role is not Reader');
});
await check('backup items: Backup now and Stop protection are disabled, saying why', async () => {
  await page.goto(`${URL}/#/v/${vault}/items`);
  const row = page.locator(`tr[data-item="${vm}"]`);
  await row.waitFor();
  for (const name of ['Backup now', 'Stop protection']) {
    const b = row.getByRole('button', { name });
    expect(await b.isDisabled(), `${name} is enabled`);
    expect((await b.getAttribute('title')).includes('Needs the'), `${name} has no reason`);
  }
});
await shot(page, '14-reader-items');
await check('recovery points: Restore is disabled', async () => {
  await page.locator(`tr[data-item="${vm}"]`).getByRole('link', { name: 'Recovery points' }).click();
  const b = page.locator('tr[data-point]').first().getByRole('button', { name: 'Restore' });
  await b.waitFor();
  expect(await b.isDisabled(), 'Restore is enabled');
});
await check('+ Backup: Enable backup and Create policy are disabled', async () => {
  await page.goto(`${URL}/#/v/${vault}/backup`);
  await page.getByTestId('policy-details').waitFor();
  expect(await page.getByRole('button', { name: 'Enable backup' }).isDisabled(), 'Enable backup is enabled');
  await page.getByLabel('Policy', { exact: true }).selectOption({ label: 'Create a new policy…' });
  expect(await page.getByRole('button', { name: 'Create policy' }).isDisabled(), 'Create policy is enabled');
});
await check('vault creation is disabled', async () => {
  await page.goto(`${URL}/#/vaults`);
  expect(await page.getByRole('button', { name: 'Create vault' }).isDisabled(), 'Create vault is enabled');
});
await check('the server refuses a Reader\'s backup from the page with AuthorizationFailed', async () => {
  const r = await page.evaluate(async ([v, i]) => {
    const res = await fetch(`/api/v1/vaults/${v}/protectedItems/${i}/backup`, {
      method: 'POST', headers: { Authorization: `Bearer ${sessionStorage.getItem('vmvault.token')}`, 'Content-Type': 'application/json' }, body: '{}' });
    return [res.status, (await res.json()).error.code];
  }, [vault, vm]);
  expect(r[0] === 403 && r[1] === 'AuthorizationFailed', JSON.stringify(r));
});
await shot(page, '15-reader-vaults');
await check('a Reader sees the Pairing view', async () => {
  await page.getByRole('link', { name: 'Pairing', exact: true }).click();
  await page.getByTestId('pairing').filter({ hasText: /This server is not paired|Peer role/ }).waitFor();
});
await check('sign out forgets the token', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('User token').waitFor();
  expect(await page.evaluate(() => sessionStorage.getItem('vmvault.token')) === null, 'token still stored');
});
await done(ctx);
