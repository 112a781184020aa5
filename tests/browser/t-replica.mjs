// t-replica.mjs: a replica vault on the secondary of a real pairing: listed and marked
// "Replica of <region>", its overview saying so with the replica's replication card;
// the buttons that would change it disabled, saying why, and the server refusing a
// backup with ReplicaVaultReadOnly; Restore stays, asking for a host of this region;
// the Pairing view shows the primary.
//   VV_URL the secondary; VV_TOKEN its owner's token; VV_VAULT the replica vault;
//   VV_VM its protected VM; VV_PRIMARY_REGION the primary's region;
//   VV_LRS_VAULT a LocallyRedundant vault of the primary (never replicated);
//   VV_TARGET_HOST a host of the secondary's region registered with the replica vault;
//   VV_RESTORE_DIR the folder on it to restore the disks into.
import { open, signIn, check, expect, shot, done, apiGet, URL } from './lib.mjs';

const ctx = await open();
const { page } = ctx;
const { VV_TOKEN: token, VV_VAULT: vault, VV_VM: vm, VV_PRIMARY_REGION: region, VV_LRS_VAULT: lrs } = process.env;
const { VV_TARGET_HOST: host, VV_RESTORE_DIR: restoreDir } = process.env;
const text = async (id) => (await page.getByTestId(id).textContent()).trim();
const readOnly = async (b, name) => {
  expect(await b.isDisabled(), `${name} is enabled`);
  expect(await b.getAttribute('data-readonly') === 'replica' && /replica of the vault in region/.test(await b.getAttribute('title')), `${name}: ${await b.getAttribute('title')}`);
};

await signIn(page, token);
await check(`the vault list marks ${vault} "Replica of ${region}", and has no LocallyRedundant vault`, async () => {
  await page.locator(`tr[data-vault="${vault}"]`).filter({ hasText: `Replica of ${region}` }).waitFor();
  expect(await page.locator(`tr[data-vault="${lrs}"]`).count() === 0, `${lrs} was replicated`);
});
await check('the overview says it is a read-only replica, with the replica\'s card', async () => {
  const r = (await apiGet(`/vaults/${vault}/overview`, token)).replication;
  expect(r.role === 'Replica' && r.primaryRegion === region, `the API says ${JSON.stringify(r)}`);
  await page.locator(`tr[data-vault="${vault}"]`).getByRole('link', { name: vault }).click();
  await page.getByTestId('replica-note').filter({ hasText: `Replica of ${region}.` }).waitFor();
  expect(await text('nav-replica') === `Replica of ${region}`, await text('nav-replica'));
  expect((await text('vault-head')).includes(`replica of ${region}, read-only`), await text('vault-head'));
  const card = page.getByTestId('replication-card');
  expect(await card.getAttribute('data-state') === r.state, `card ${await card.getAttribute('data-state')}, API ${r.state}`);
  expect(await text('repl-region') === `the vault in region ${region}`, await text('repl-region'));
  await page.getByTestId('repl-received').waitFor();
});
await shot(page, '22-replica-overview');
await check('backup items: Backup now and Stop protection are disabled, saying it is a replica', async () => {
  await page.goto(`${URL}/#/v/${vault}/items`);
  const row = page.locator(`tr[data-item="${vm}"]`);
  await row.waitFor();
  await readOnly(row.getByRole('button', { name: 'Backup now' }), 'Backup now');
  await readOnly(row.getByRole('button', { name: /^(Stop protection|Resume)$/ }), 'Stop protection');
});
await shot(page, '23-replica-items');
await check(`Restore stays, and runs on ${host}, a host of this region`, async () => {
  await page.locator(`tr[data-item="${vm}"]`).getByRole('link', { name: 'Recovery points' }).click();
  const b = page.locator('tr[data-point]').first().getByRole('button', { name: 'Restore' });
  await b.waitFor();
  expect(await b.isEnabled(), 'Restore is disabled');
  await b.click();
  const sel = page.getByLabel('Host that runs the restore');
  expect(await sel.getAttribute('required') !== null, 'the host is not required');
  await page.getByRole('dialog').getByText("its items name the primary region's hosts (").waitFor();
  expect(await sel.inputValue() === host, `the host chosen is ${await sel.inputValue()}`);
  await page.getByLabel('Target folder on the host').fill(restoreDir);
  await shot(page, '23b-replica-restore');
  await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
  await page.waitForURL(/#\/v\/.*\/jobs\/[0-9a-f-]+$/);
  await page.locator('.job-head .badge').filter({ hasText: /^Completed/ }).waitFor({ timeout: 90000 });
  const j = await apiGet(`/vaults/${vault}/jobs/${page.url().split('/').pop()}`, token);
  expect(j.operation === 'Restore' && j.status === 'Completed', JSON.stringify(j));
});
await check('+ Backup and Properties: Enable backup, Create policy and Save are disabled', async () => {
  await page.goto(`${URL}/#/v/${vault}/backup`);
  await page.getByRole('button', { name: 'Enable backup' }).waitFor();
  await readOnly(page.getByRole('button', { name: 'Enable backup' }), 'Enable backup');
  await readOnly(page.locator('button', { hasText: /^Create policy$/ }), 'Create policy');
  await page.goto(`${URL}/#/v/${vault}/properties`);
  await readOnly(page.getByRole('button', { name: 'Save' }), 'Save');
  await page.getByTestId('properties-replication').waitFor();
});
await check('the server refuses a backup of the replica with ReplicaVaultReadOnly', async () => {
  const r = await page.evaluate(async ([v, i]) => {
    const res = await fetch(`/api/v1/vaults/${v}/protectedItems/${i}/backup`, {
      method: 'POST', headers: { Authorization: `Bearer ${sessionStorage.getItem('vmvault.token')}`, 'Content-Type': 'application/json' }, body: '{}' });
    return [res.status, (await res.json()).error.code];
  }, [vault, vm]);
  expect(r[0] === 409 && r[1] === 'ReplicaVaultReadOnly', JSON.stringify(r));
});
await check('Pairing: the primary, its region, connected', async () => {
  await page.goto(`${URL}/#/pairing`);
  const row = page.locator('tr[data-peer-role="Primary"]');
  await row.waitFor();
  expect((await row.textContent()).includes(region), await row.textContent());
});
await shot(page, '24-pairing-secondary');
await done(ctx);
