#!/usr/bin/env node
// A small stand-in for the taartenfabriek server, for working on the UI without
// the Rust build: it follows the API contract (api-spec.md) with in-memory VMs.
// Not used by the tests (they run the real server); run it by hand:
//   node tests/ui/support/mock-server.mjs [port]
import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const www = path.resolve(here, '../../../www');
const TOKEN = 'mock-token';
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const vms = new Map();
function addVm(name, extra) {
  vms.set(name, Object.assign({ name, status: 'stopped', state: 'stopped', ip_address: null, source: 'local', os: 'linux', cpu: 4, memory: '4G', disk_size: 20, display: '1024x768' }, extra));
}
// Invoked like the real server (--port 0 --data-dir D --tart T): write the token
// and take the VMs that fake-tart.mjs made in $TART_HOME/vms.
const argv = process.argv.slice(2);
const flag = (n) => (argv.indexOf(n) >= 0 ? argv[argv.indexOf(n) + 1] : undefined);
const dataDir = flag('--data-dir');
if (dataDir) {
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(path.join(dataDir, 'token'), TOKEN + '\n');
  const vmsDir = path.join(process.env.TART_HOME || '', 'vms');
  for (const n of fs.existsSync(vmsDir) ? fs.readdirSync(vmsDir) : []) {
    const cfg = JSON.parse(fs.readFileSync(path.join(vmsDir, n, 'config.json'), 'utf8'));
    addVm(n, { os: cfg.os, memory: cfg.os === 'darwin' ? '8G' : '4G', disk_size: cfg.os === 'darwin' ? 50 : 20 });
  }
} else if (!process.env.MOCK_EMPTY) {
  addVm('sequoia-dev', { os: 'darwin', memory: '8G', disk_size: 50 });
  addVm('ubuntu-runner', { status: 'running', state: 'running', ip_address: '192.168.64.7' });
  addVm('x<img src=y onerror=alert(1)>', {});
  addVm('ghcr.io/cirruslabs/ubuntu:latest', { source: 'oci', os: null, cpu: null, memory: null, disk_size: 20 });
}
const tasks = new Map();
const subs = new Map();

function now() {
  return Date.now() / 1000;
}
function send(res, code, body) {
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}
function touch(t) {
  t.updated_at = now();
  for (const s of subs.get(t.id) || []) wsSend(s, JSON.stringify(t));
  if (t.status === 'completed' || t.status === 'failed') {
    for (const s of subs.get(t.id) || []) wsClose(s);
    subs.delete(t.id);
  }
}
function newTask(action, vm_name) {
  const t = { id: crypto.randomUUID(), action, status: 'pending', vm_name, command: null, exit_code: null, result: null, error: null, stderr: null, created_at: now(), updated_at: now(), logs: [], progress: null };
  tasks.set(t.id, t);
  return t;
}
function run(t, steps) {
  let i = 0;
  const next = () => {
    if (i >= steps.length) return;
    steps[i++](t);
    touch(t);
    setTimeout(next, 400);
  };
  setTimeout(next, 200);
}

function api(req, res, url, body) {
  const p = url.pathname;
  if (req.headers['x-local-token'] !== TOKEN) return send(res, 401, { detail: 'Missing or invalid token' });
  if (p === '/api/health') return send(res, 200, { status: 'ok', version: '0.1.0' });
  if (p === '/api/tart/version') {
    if (process.env.MOCK_NO_TART || (flag('--tart') && !fs.existsSync(flag('--tart')))) return send(res, 503, { detail: 'tart not found: no such file' });
    return send(res, 200, { version: '2.32.1' });
  }
  if (p === '/api/vms' && req.method === 'GET') return send(res, 200, [...vms.values()]);
  if (p === '/api/vms/refresh') return send(res, 200, [...vms.values()]);
  if (p === '/api/tasks') return send(res, 200, [...tasks.values()].reverse());
  let m = /^\/api\/tasks\/([^/]+)$/.exec(p);
  if (m) return tasks.has(m[1]) ? send(res, 200, tasks.get(m[1])) : send(res, 404, { detail: 'Task not found' });
  if (p === '/api/vms/pull' && req.method === 'POST') {
    const ref = body && body.oci_url;
    if (typeof ref !== 'string') return send(res, 422, { detail: [{ type: 'missing', loc: ['body', 'oci_url'], msg: 'Field required', input: body }] });
    if (!/^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+(:[\w.-]+|@sha256:[a-f0-9]{64})?$/.test(ref))
      return send(res, 422, { detail: [{ type: 'value_error', loc: ['body', 'oci_url'], msg: 'Value error, invalid OCI reference: ' + ref, input: ref }] });
    const t = newTask('pull_vm', ref);
    const steps = [(t) => { t.status = 'running'; t.logs.push('pulling manifest...'); t.progress = 0; }];
    for (let pct = 10; pct <= 100; pct += 15) steps.push((t) => { t.progress = Math.min(pct, 100); t.logs.push(Math.min(pct, 100) + '%'); });
    steps.push((t) => { t.progress = 100; t.status = 'completed'; t.exit_code = 0; t.result = { message: 'Pulled ' + ref }; addVm(ref, { source: 'oci', os: null, cpu: null, memory: null }); });
    run(t, steps);
    res.setHeader('Location', '/api/tasks/' + t.id);
    return send(res, 202, t);
  }
  m = /^\/api\/vms\/([^/]+)(?:\/(start|stop|delete|config))?$/.exec(p);
  if (m) {
    const name = decodeURIComponent(m[1]);
    const vm = vms.get(name);
    if (!vm) return send(res, 404, { detail: `VM '${name}' not found` });
    const action = m[2];
    if (!action) return send(res, 200, vm);
    if (action === 'config') {
      return send(res, 200, { name, cpu: vm.cpu, memory: vm.memory, disk_size: vm.disk_size + 'G', raw: { OS: vm.os, CPU: vm.cpu, Memory: 4096, Disk: vm.disk_size, DiskFormat: 'raw', Size: '0.000', Display: '1024x768', State: vm.state } });
    }
    if (action === 'start') {
      if (vm.status === 'running') return send(res, 409, { detail: `VM '${name}' is already running` });
      const t = newTask('start_vm', name);
      t.command = ['tart', 'run', '--vnc', '--no-graphics', name];
      run(t, [
        (t) => { t.status = 'running'; t.logs.push('starting ' + name); },
        (t) => { vm.status = 'running'; vm.state = 'running'; t.logs.push('waiting for IP'); },
        (t) => { vm.ip_address = '192.168.64.' + (10 + vms.size); t.status = 'completed'; t.result = { message: 'VM started', ip_address: vm.ip_address, vnc_url: 'vnc://' + vm.ip_address }; },
      ]);
      return send(res, 202, t);
    }
    if (action === 'stop') {
      const t = newTask('stop_vm', name);
      run(t, [(t) => { t.status = 'running'; t.logs.push('stopping'); }, (t) => { vm.status = 'stopped'; vm.state = 'stopped'; vm.ip_address = null; t.status = 'completed'; t.exit_code = 0; t.result = { message: 'VM stopped' }; }]);
      return send(res, 202, t);
    }
    if (action === 'delete') {
      if (vm.status === 'running') return send(res, 409, { detail: `VM '${name}' is running; stop it first` });
      const t = newTask('delete_vm', name);
      run(t, [(t) => { t.status = 'running'; }, (t) => { vms.delete(name); t.status = 'completed'; t.exit_code = 0; t.result = { message: 'VM deleted' }; }]);
      return send(res, 202, t);
    }
  }
  return send(res, 404, { detail: 'Not Found' });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname.startsWith('/api/')) {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      let body = null;
      try { body = data ? JSON.parse(data) : null; } catch { return send(res, 422, { detail: [{ type: 'json_invalid', loc: ['body'], msg: 'JSON decode error' }] }); }
      api(req, res, url, body);
    });
    return;
  }
  // Any file under www/, like the real server's generated table (never outside it).
  const file = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname.slice(1));
  const full = path.resolve(www, file);
  if (!full.startsWith(www + path.sep) || !fs.existsSync(full) || !fs.statSync(full).isFile()) return send(res, 404, { detail: 'Not Found' });
  let content = fs.readFileSync(full);
  const types = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml' };
  res.writeHead(200, { 'Content-Type': types[file.split('.').pop()], 'Content-Security-Policy': CSP, 'Cache-Control': 'no-store' });
  res.end(content);
});

// Minimal WebSocket (server → client text frames only).
server.on('upgrade', (req, socket) => {
  const url = new URL(req.url, 'http://x');
  const m = /^\/ws\/tasks\/([^/]+)$/.exec(url.pathname);
  if (!m || url.searchParams.get('token') !== TOKEN || !tasks.has(m[1])) {
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  socket.on('error', () => {});
  socket.on('data', () => {});
  const t = tasks.get(m[1]);
  if (!subs.has(t.id)) subs.set(t.id, new Set());
  subs.get(t.id).add(socket);
  socket.on('close', () => subs.get(t.id) && subs.get(t.id).delete(socket));
  wsSend(socket, JSON.stringify(t));
  if (t.status === 'completed' || t.status === 'failed') wsClose(socket);
});
function wsSend(socket, text) {
  const payload = Buffer.from(text);
  let header;
  if (payload.length < 126) header = Buffer.from([0x81, payload.length]);
  else if (payload.length < 65536) { header = Buffer.alloc(4); header[0] = 0x81; header[1] = 126; header.writeUInt16BE(payload.length, 2); }
  else { header = Buffer.alloc(10); header[0] = 0x81; header[1] = 127; header.writeBigUInt64BE(BigInt(payload.length), 2); }
  socket.write(Buffer.concat([header, payload]));
}
function wsClose(socket) {
  socket.end(Buffer.from([0x88, 0x02, 0x03, 0xe8]));
}

const port = Number(flag('--port') || (argv[0] && !argv[0].startsWith('-') ? argv[0] : 0));
server.listen(port, '127.0.0.1', () => {
  const url = 'http://127.0.0.1:' + server.address().port;
  console.log('taartenfabriek listening on ' + url);
  console.log('open ' + url + '/#token=' + TOKEN);
});
