// Unit tests of the lifecycle dialogs' pure rules (www/js/lifecycle-rules.js) and of
// which actions a VM row allows (www/js/actions.js), run by `node --test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localImageChoices, suggestName, parseDirs, bytesText } from '../../../www/js/lifecycle-rules.js';
import { allowed } from '../../../www/js/actions.js';

test('a tag and its digest are offered as one image', () => {
  const rows = [
    { name: 'ghcr.io/cirruslabs/ubuntu:latest', source: 'oci' },
    { name: 'ghcr.io/cirruslabs/ubuntu@sha256:' + 'a'.repeat(64), source: 'oci' },
    { name: 'localhost:5000/solo@sha256:' + 'b'.repeat(64), source: 'oci' },
    { name: 'my-vm', source: 'local' },
  ];
  assert.deepEqual(localImageChoices(rows), ['ghcr.io/cirruslabs/ubuntu:latest', 'localhost:5000/solo@sha256:' + 'b'.repeat(64)]);
});

test('clone names, shared folders and sizes', () => {
  assert.equal(suggestName('ghcr.io/cirruslabs/macos-sequoia-base:latest'), 'macos-sequoia-base');
  assert.equal(suggestName('localhost:5000/org/img@sha256:' + 'c'.repeat(64)), 'img');
  assert.equal(suggestName('my vm'), 'my vm-copy');
  assert.deepEqual(parseDirs('src:/Users/me/src\n\n docs:/tmp/docs:ro '), {
    dirs: [
      { name: 'src', path: '/Users/me/src', read_only: false },
      { name: 'docs', path: '/tmp/docs', read_only: true },
    ],
  });
  assert.match(parseDirs('/no/name').error, /name:\/absolute\/path/);
  assert.equal(bytesText(135168), '135 kB');
  assert.equal(bytesText(21_500_000_000), '21.5 GB');
  assert.equal(bytesText(0), '0 B');
});

test('the server’s actions list wins; without it the status decides', () => {
  assert.equal(allowed({ actions: ['start', 'delete'], status: 'running' }, 'start'), true);
  assert.equal(allowed({ actions: ['start', 'delete'], status: 'stopped' }, 'settings'), false);
  const running = { status: 'running', os: 'darwin' };
  assert.equal(allowed(running, 'suspend'), true);
  assert.equal(allowed({ status: 'running', os: 'linux' }, 'suspend'), false);
  assert.equal(allowed(running, 'settings'), false);
  assert.equal(allowed(running, 'delete'), false);
  const suspended = { status: 'unknown', state: 'suspended', os: 'darwin' };
  assert.equal(allowed(suspended, 'start'), true);
  assert.equal(allowed(suspended, 'stop'), true);
  assert.equal(allowed(suspended, 'settings'), false);
  assert.equal(allowed(suspended, 'rename'), true);
});
