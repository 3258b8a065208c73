// Unit tests of the UI's pure modules (www/js/format.js, vms.js, actions.js), run by
// `node --test` without a browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { osLabel, diskLabel, memoryLabel, cpuLabel, countText, detailText, configRows, formatTime, usedLabel } from '../../../www/js/format.js';
import { isImage, statusOf, statusText, isTerminal, sortVms, matchesFilter, busyTaskFor } from '../../../www/js/vms.js';
import { actionLabel, busyLabel, taskTitle } from '../../../www/js/actions.js';

test('labels for what tart reports', () => {
  assert.equal(osLabel('darwin'), 'macOS');
  assert.equal(osLabel('linux'), 'Linux');
  assert.equal(osLabel(null), '—');
  assert.equal(osLabel('plan9'), 'plan9');
  assert.equal(diskLabel(50), '50 GB');
  assert.equal(diskLabel('20G'), '20 GB');
  assert.equal(diskLabel('12.5'), '12.5 GB');
  assert.equal(diskLabel(''), '—');
  assert.equal(memoryLabel(4096), '4096 MB');
  assert.equal(memoryLabel('8G'), '8 GB');
  assert.equal(memoryLabel('512MiB'), '512 MB');
  assert.equal(cpuLabel(1), '1 core');
  assert.equal(cpuLabel('4'), '4 cores');
  assert.equal(cpuLabel(undefined), '—');
  assert.equal(countText(3, 3), '3');
  assert.equal(countText(1, 3), '1 of 3');
  assert.equal(formatTime('x'), '');
  assert.notEqual(formatTime(0), '');
});

test('error bodies become one sentence', () => {
  assert.equal(detailText({ detail: "VM 'a' not found" }, 404), "VM 'a' not found");
  assert.equal(
    detailText({ detail: [{ loc: ['body', 'oci_url'], msg: 'Field required' }, { msg: 'second' }] }, 422),
    'oci_url: Field required; Second',
  );
  // The predecessor's validator prefix and the field name do not reach the user.
  assert.equal(
    detailText({ detail: [{ type: 'value_error', loc: ['body', 'oci_url'], msg: 'Value error, OCI reference needs a registry host' }] }, 422),
    'OCI reference needs a registry host',
  );
  assert.equal(detailText({ detail: { code: 1 } }, 500), '{"code":1}');
  assert.equal(detailText(null, 0), 'The server could not be reached.');
  assert.equal(detailText('<html>', 502), 'The server answered HTTP 502.');
});

test('details rows prefer the config, then the raw config, then the VM row', () => {
  const rows = configRows({ cpu: 2, memory: '8G', disk_size: '50G', raw: { OS: 'darwin', Display: '1024x768', DiskFormat: 'asif', Size: '12.500', State: 'stopped' } }, {});
  assert.deepEqual(rows, [
    ['CPU', '2 cores'],
    ['Memory', '8 GB'],
    ['Disk', '50 GB'],
    ['Display', '1024x768'],
    ['OS', 'macOS'],
    ['Disk format', 'asif'],
    ['Space used', '13 GB'],
    ['Tart state', 'stopped'],
  ]);
  const fallback = configRows({}, { cpu: 4, memory: '4G', disk_size: 20, os: 'linux' });
  assert.deepEqual(fallback.map((r) => r[1]), ['4 cores', '4 GB', '20 GB', '—', 'Linux']);
});

test('status, images and terminal states', () => {
  assert.equal(isImage({ source: 'OCI' }), true);
  assert.equal(isImage({ source: 'local' }), false);
  assert.equal(statusOf({ status: 'running' }), 'running');
  assert.equal(statusOf({ status: 'paused' }), 'unknown');
  assert.equal(statusText({ status: 'stopped', state: 'suspended' }), 'suspended');
  assert.equal(statusText({ status: 'running', state: 'suspended' }), 'running');
  assert.equal(isTerminal('failed'), true);
  assert.equal(isTerminal('running'), false);
});

test('space used, from tart\'s three-decimal GB string', () => {
  assert.equal(usedLabel('0.000'), '0 GB');
  assert.equal(usedLabel('0.042'), 'under 0.1 GB');
  assert.equal(usedLabel('1.949'), '1.9 GB');
  assert.equal(usedLabel('12.500'), '13 GB');
  assert.equal(usedLabel(null), '—');
  assert.equal(usedLabel('n/a'), 'n/a');
});

test('sorting and filtering', () => {
  const vms = [
    { name: 'b', status: 'stopped' },
    { name: 'a', status: 'stopped' },
    { name: 'c', status: 'running' },
    { name: 'd', status: 'weird' },
  ];
  assert.deepEqual(sortVms(vms, 'name').map((v) => v.name), ['a', 'b', 'c', 'd']);
  assert.deepEqual(sortVms(vms, 'name-desc').map((v) => v.name), ['d', 'c', 'b', 'a']);
  assert.deepEqual(sortVms(vms, 'status').map((v) => v.name), ['c', 'd', 'a', 'b']);
  assert.deepEqual(vms.map((v) => v.name), ['b', 'a', 'c', 'd'], 'the input is not sorted in place');
  assert.equal(matchesFilter({ name: 'Ubuntu-Runner', status: 'running' }, ' runner ', ''), true);
  assert.equal(matchesFilter({ name: 'ubuntu', status: 'running' }, '', 'stopped'), false);
  assert.equal(matchesFilter({ name: 'ubuntu', status: 'x' }, 'ubu', 'unknown'), true);
});

test('the busy task of a VM is its newest unfinished one', () => {
  const tasks = [
    { id: 1, vm_name: 'a', status: 'completed', created_at: 9 },
    { id: 2, vm_name: 'a', status: 'running', created_at: 1 },
    { id: 3, vm_name: 'a', status: 'pending', created_at: 2 },
    { id: 4, vm_name: 'b', status: 'running', created_at: 5 },
  ];
  assert.equal(busyTaskFor(tasks, 'a').id, 3);
  assert.equal(busyTaskFor(tasks, 'c'), null);
});

test('action labels', () => {
  assert.equal(actionLabel('start_vm'), 'Start');
  assert.equal(actionLabel('frobnicate_vm'), 'frobnicate_vm');
  assert.equal(busyLabel('pull_vm'), 'Pulling…');
  assert.equal(busyLabel('other'), 'Working…');
  assert.equal(taskTitle({ action: 'stop_vm', vm_name: 'x' }), 'Stop x');
});

test('names that would spoof another show what they hide', async () => {
  const { visibleName } = await import('../../../www/js/format.js');
  assert.equal(visibleName('vm1'), 'vm1');
  assert.equal(visibleName('evil\u202egnp.exe'), 'evil\\u202egnp.exe');
  assert.equal(visibleName('vm1 '), 'vm1\u2423');
  assert.equal(visibleName('  vm 1  '), '\u2423\u2423vm 1\u2423\u2423');
  assert.equal(visibleName('a\u200bb\u2066c\ufeff'), 'a\\u200bb\\u2066c\\ufeff');
  assert.equal(visibleName('tab\there\nnl'), 'tab\\u0009here\\u000anl');
  assert.equal(visibleName('nbsp\u00a0x'), 'nbsp\\u00a0x');
  // Ordinary non-ASCII names are left alone.
  assert.equal(visibleName('café-ü 日本'), 'café-ü 日本');
  assert.equal(visibleName('ghcr.io/a/b:latest'), 'ghcr.io/a/b:latest');
});
