import * as api from '../api.js';
import { h, append, clear, badge, notice, when, ago, empty, table, errorNotice, loading } from '../dom.js';
import { page, panel } from './common.js';

// A backup older than this is worth a warning.
const STALE_DAYS = 7;

export async function renderKeys(ctx, main) {
  page(main, 'Keys and backups', 'The master key versions that protect every tenant’s data keys, and the backups taken with “tessera backup”.');
  const keysArea = h('div', {}, loading());
  const backupCard = h('div', { id: 'last-backup' }, loading());
  const backupList = h('div', {});
  main.append(h('div', { class: 'grid two' }, panel('Master key', keysArea), panel('Last backup', backupCard)), panel('Backups', backupList));
  const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));
  const [keys, backups] = await Promise.all([
    settle(api.get('/api/v1/platform/keys')),
    settle(api.get('/api/v1/platform/backups?limit=20')),
  ]);
  drawKeys(keysArea, keys);
  drawBackups(backupCard, backupList, backups);
}

function drawKeys(area, result) {
  clear(area);
  if (result.error) { area.append(errorNotice(result.error)); return; }
  const status = result.value;
  const versions = status.versions || [];
  // The helper, not Element.append: it skips the parts left out (null).
  append(area, [
    h('dl', { class: 'kv', id: 'key-summary' },
      h('dt', {}, 'Active version'), h('dd', {}, h('strong', {}, String(status.active_version))),
      h('dt', {}, 'Versions'), h('dd', {}, String(versions.length)),
      h('dt', {}, 'Data keys to re-wrap'), h('dd', {}, String(status.pending_rewrap))),
    status.pending_rewrap > 0
      ? notice('warn', `${status.pending_rewrap} data key${status.pending_rewrap === 1 ? ' is' : 's are'} still wrapped under an older version: run “tessera rotate-key” again to finish the rotation.`)
      : null,
    versions.some((v) => !v.in_keyring && v.data_keys > 0)
      ? notice('error', 'A version still in use is missing from the key file (or TESSERA_MASTER_KEY): the data keys it wraps cannot be opened.')
      : null,
    versions.length
      ? table(
        [{ label: 'Version' }, { label: 'State' }, { label: 'Data keys' }, { label: 'Created', optional: true }, { label: 'Retired', optional: true }],
        [...versions].reverse(),
        (v) => [
          String(v.version),
          h('div', { class: 'row' },
            v.version === status.active_version ? badge('active') : v.retired_at ? badge('inactive', 'Retired') : badge('pending', 'In use'),
            v.in_keyring ? null : badge('failed', 'Not in key file')),
          String(v.data_keys),
          when(v.created_at),
          when(v.retired_at),
        ])
      : empty('No key versions', 'The database has not registered a master key yet.'),
    h('p', { class: 'help' }, 'Rotate with ', h('code', {}, 'tessera rotate-key'), ' (safe while the server runs); the data itself is never re-encrypted, only the data keys are re-wrapped.')]);
}

function drawBackups(card, list, result) {
  clear(card);
  clear(list);
  if (result.error) { card.append(errorNotice(result.error)); return; }
  const items = result.value.items || [];
  const last = items[0];
  if (!last) {
    card.append(notice('warn', 'No backup recorded yet.'),
      h('p', {}, 'Run ', h('code', {}, 'tessera backup FILE'), ' on the server (safe while it runs) and keep the copy apart from the master key file.'));
    list.append(empty('No backups yet', 'Backups taken with “tessera backup” are listed here.'));
    return;
  }
  const ageDays = (Date.now() - new Date(last.at).getTime()) / 86400000;
  append(card, [
    h('div', { class: 'stat' }, ago(last.at)),
    h('p', { class: 'stat-label' }, when(last.at)),
    h('dl', { class: 'kv' },
      h('dt', {}, 'File'), h('dd', { class: 'mono' }, last.file || '—'),
      h('dt', {}, 'Size'), h('dd', {}, size(last.bytes)),
      h('dt', {}, 'Tenants'), h('dd', {}, last.tenants ?? '—')),
    ageDays > STALE_DAYS ? notice('warn', `The last backup is more than ${STALE_DAYS} days old.`) : null]);
  list.append(table(
    [{ label: 'When' }, { label: 'File' }, { label: 'Size', optional: true }, { label: 'Tenants', optional: true }, { label: 'Connections', optional: true }],
    items,
    (b) => [when(b.at), h('span', { class: 'mono' }, b.file || '—'), size(b.bytes), b.tenants ?? '—', b.connections ?? '—']));
}

function size(bytes) {
  if (bytes === null || bytes === undefined) return '—';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}
