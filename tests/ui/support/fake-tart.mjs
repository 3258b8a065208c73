#!/usr/bin/env node
// Just enough of `tart create` for the mock server (mock-server.mjs): makes
// $TART_HOME/vms/<name>/config.json. The tests use the real tart-sim.
import fs from 'node:fs';
import path from 'node:path';
const args = process.argv.slice(2);
if (args[0] !== 'create') process.exit(0);
const name = args[args.length - 1];
const dir = path.join(process.env.TART_HOME, 'vms', name);
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ os: args.includes('--linux') ? 'linux' : 'darwin' }));
