// t-backup.mjs: the daily workflow on a real host: + Backup with a new policy
// (previewing its runs), enable backup for a VM, Backup now with a chosen
// retain-until date, the job's progress bar moving to the end, the recovery point
// with its consistency, and a restore of its disks.
//   VV_TOKEN the owner's token; VV_VAULT the vault; VV_VM the VM (on host1);
//   VV_OTHER_HOST a host in another region reporting the same VM;
//   VV_RESTORE_DIR the folder to restore the disks into.
import { open, signIn, check, expect, shot, done, apiGet, URL } from './lib.mjs';

const ctx = await open();
const { page } = ctx;
const { VV_TOKEN: token, VV_VAULT: vault, VV_VM: vm, VV_OTHER_HOST: other, VV_RESTORE_DIR: restoreDir } = process.env;
const day = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);
// The new policy runs daily twelve hours from now (Berlin time), never while this runs.
const berlinHour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', hourCycle: 'h23' }).format(new Date()));
const runAt = `${String((berlinHour + 12) % 24).padStart(2, '0')}:30`;

await signIn(page, token);
await page.goto(`${URL}/#/v/${vault}/backup`);

await check("+ Backup shows the default policy's details", async () => {
  await page.getByTestId('policy-details').filter({ hasText: 'Daily at' }).waitFor();
});
await check('a new policy: the form previews its next runs in its zone and the browser\'s', async () => {
  await page.getByLabel('Policy', { exact: true }).selectOption({ label: 'Create a new policy…' });
  await page.getByLabel('Policy name').fill('Nightly');
  await page.getByLabel('Time zone').fill('Europe/Berlin');
  await page.getByLabel(/^Run times/).fill(runAt);
  await page.getByLabel('Keep daily points (days)').fill('14');
  await page.getByLabel(/^Keep weekly points/).fill('8');
  await page.getByRole('button', { name: 'Preview next runs' }).click();
  const t = page.locator('.preview').getByRole('table', { name: 'Next runs' });
  await t.waitFor();
  const text = await t.textContent();
  expect(text.includes('Europe/Berlin') && text.includes('America/New_York') && new RegExp(`${runAt}:00\\+0[12]:00`).test(text), text);
});
await check('a bad time zone is refused with the server\'s reason', async () => {
  await page.getByLabel('Time zone').fill('Mars/Olympus');
  await page.getByRole('button', { name: 'Preview next runs' }).click();
  await page.getByRole('alert').filter({ hasText: 'not a known IANA time zone' }).waitFor();
  await page.getByLabel('Time zone').fill('Europe/Berlin');
  /* the error was about the form as it was: editing clears it */
  const stale = await page.getByRole('alert').filter({ hasText: 'not a known IANA time zone' }).count();
  expect(stale === 0, 'the error about the old time zone is still shown');
  await page.getByRole('button', { name: 'Preview next runs' }).click();
  await page.locator('.preview').getByRole('table', { name: 'Next runs' }).waitFor();
});
await shot(page, '03-new-policy-preview');
await check('create the policy', async () => {
  await page.getByRole('button', { name: 'Create policy' }).click();
  await page.getByTestId('policy-details').filter({ hasText: `Daily at ${runAt} (Europe/Berlin)` }).waitFor();
  const p = await apiGet(`/vaults/${vault}/policies/Nightly`, token);
  expect(p.timeZone === 'Europe/Berlin' && p.retentionPolicy.weeklySchedule.retentionDuration.count === 8, JSON.stringify(p));
});
await check('the VM in another region is shown, disabled, with the reason', async () => {
  const box = page.getByLabel(`Select ${vm} on ${other}`);
  expect(await box.isDisabled(), 'its checkbox is enabled');
  await page.getByRole('row').filter({ hasText: other }).filter({ hasText: vm }).filter({ hasText: 'In region northeurope' }).waitFor();
});
await check('select the VM and enable backup: a ConfigureBackup job', async () => {
  await page.getByLabel(`Select ${vm} on host1`).check();
  await shot(page, '04-select-vm');
  await page.getByRole('button', { name: 'Enable backup' }).click();
  await page.getByTestId('configure-results').filter({ hasText: 'ConfigureBackup' }).waitFor();
  const it = await apiGet(`/vaults/${vault}/protectedItems/${vm}`, token);
  expect(it.policy === 'Nightly' && it.nextRun, JSON.stringify(it));
});
await shot(page, '05-enabled');

const retain = day(45);
let jobUrl;
await check('backup items: the VM with its policy, next run in the policy zone, no point yet', async () => {
  await page.getByRole('link', { name: 'Backup items' }).first().click();
  const row = page.locator(`tr[data-item="${vm}"]`);
  await row.waitFor();
  const text = await row.textContent();
  expect(text.includes('Nightly') && text.includes('Europe/Berlin') && text.includes('IRPending'), text);
});
await check(`Backup now with retain-until ${retain}`, async () => {
  await page.locator(`tr[data-item="${vm}"]`).getByRole('button', { name: 'Backup now' }).click();
  const date = page.getByLabel('Retain backup till');
  expect(await date.inputValue() === day(30), `default is ${await date.inputValue()}, not ${day(30)}`);
  await date.fill(retain);
  await shot(page, '06-backup-now');
  await page.getByRole('dialog').getByRole('button', { name: 'Back up' }).click();
  await page.waitForURL(/#\/v\/.*\/jobs\/[0-9a-f-]+$/);
  jobUrl = page.url();
});
await check('the progress bar moves while the data is sent, with throughput and time left', async () => {
  const seen = new Set();
  let text = '';
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    const bar = page.getByTestId('job-progress');
    if (await bar.count()) {
      const v = Number(await bar.getAttribute('value'));
      if (v > 0 && v < 100) {
        seen.add(v);
        text = await page.getByTestId('job-progress-text').textContent();
        if (seen.size === 2) await shot(page, '07-backup-progress');
      }
    }
    if (seen.size >= 3 && /\/s/.test(text) && /left/.test(text)) break;
    const st = await page.locator('.job-head .badge').first().textContent();
    if (!['InProgress', 'Cancelling'].includes(st)) break;
    await page.waitForTimeout(250);
  }
  expect(seen.size >= 2, `saw progress values ${[...seen]}`);
  expect(/\/s/.test(text) && /left/.test(text), `progress text: ${text}`);
  expect(page.url() === jobUrl, 'the page was reloaded or left');
});
await check('the job finishes, with its sub-tasks and data', async () => {
  await page.locator('.job-head .badge').filter({ hasText: /^Completed/ }).waitFor({ timeout: 90000 });
  const t = await page.getByRole('table', { name: 'Sub-tasks' }).textContent();
  expect(t.includes('Take Snapshot') && t.includes('Transfer data to vault'), t);
  await page.getByTestId('job-stats').filter({ hasText: 'Sent to the vault' }).waitFor();
});
await check('the job keeps the chosen retain-until date', async () => {
  const id = jobUrl.split('/').pop();
  const j = await apiGet(`/vaults/${vault}/jobs/${id}`, token);
  expect(j.retainUntil === `${retain}T23:59:59Z`, j.retainUntil);
});
await check('its warning says what to do', async () => {
  await page.getByText('GuestAgentNotConfigured').first().waitFor();
  await page.getByText('What to do:').first().waitFor();
});
await shot(page, '08-backup-done');

await check('the recovery point is listed with its consistency and expiry', async () => {
  await page.getByRole('link', { name: 'Backup items' }).first().click();
  await page.locator(`tr[data-item="${vm}"]`).getByRole('link', { name: 'Recovery points' }).click();
  const row = page.locator('tr[data-point]').first();
  await row.waitFor();
  const text = await row.textContent();
  expect(text.includes('CrashConsistent') && text.includes('OnDemand'), text);
});
await shot(page, '09-recovery-points');
await check('restore its disks to a folder', async () => {
  await page.locator('tr[data-point]').first().getByRole('button', { name: 'Restore' }).click();
  await page.getByLabel('Target folder on the host').fill(restoreDir);
  await shot(page, '10-restore');
  await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
  await page.waitForURL(/#\/v\/.*\/jobs\/[0-9a-f-]+$/);
  await page.getByRole('heading', { name: `Restore of ${vm}` }).waitFor();
  await page.locator('.job-head .badge').filter({ hasText: /^Completed/ }).waitFor({ timeout: 90000 });
});
await shot(page, '11-restore-done');
await check('replacing the original VM asks for confirmation', async () => {
  await page.goBack();
  await page.locator('tr[data-point]').first().getByRole('button', { name: 'Restore' }).click();
  await page.getByLabel('Restore type').selectOption('OriginalLocation');
  await page.getByText('This overwrites the disks of the original VM.').waitFor();
  await page.getByRole('dialog').getByRole('button', { name: 'Restore' }).click();
  await page.getByRole('dialog').locator('.dialog-error').filter({ hasText: 'NotConfirmed' }).waitFor();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
});
await check('the jobs list filters by operation and shows both jobs finished', async () => {
  await page.goto(`${URL}/#/v/${vault}/jobs?operation=Backup`);
  await page.locator('tr[data-job]').first().waitFor();
  const n = await page.locator('tr[data-job]').count();
  const t = await page.locator('tbody').textContent();
  expect(n === 1 && t.includes('Backup') && !t.includes('Restore'), `${n} rows: ${t}`);
  await page.getByLabel('Operation').selectOption('');
  await page.locator('tr[data-job]').filter({ hasText: 'Restore' }).waitFor();
});
await shot(page, '12-jobs');
await check('the overview counts the item healthy and shows storage and deduplication', async () => {
  await page.goto(`${URL}/#/v/${vault}/overview`);
  await page.getByRole('heading', { name: 'Protected items (1)' }).waitFor();
  const used = await page.getByTestId('storage-used').textContent();
  expect(used !== '0 B', used);
  await shot(page, '13-overview');
});
await check('properties: redundancy is locked, saying why', async () => {
  const lock = await page.goto(`${URL}/#/v/${vault}/properties`).then(() => page.getByLabel('Storage redundancy'));
  await page.getByText(/^Locked: the vault protects 1 item/).waitFor();
  expect(await lock.isDisabled(), 'redundancy is editable while an item is protected');
});
await shot(page, '13-properties-locked');
await done(ctx);
