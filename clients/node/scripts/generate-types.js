#!/usr/bin/env node
'use strict';
// Generates the TypeScript types of the schema into src/generated/ with @grpc/proto-loader's proto-loader-gen-types,
// for the loader options the client uses (src/proto-options.js). Run by `npm install` / `npm ci` (prepare) and by
// run_tests.sh; nothing generated is committed.  PROTO_DIR overrides the repository's proto/.
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { PROTO_FILES, LOADER_OPTIONS } = require('../src/proto-options');

const root = path.resolve(__dirname, '..');
const protoDir = process.env.PROTO_DIR || path.resolve(root, '..', '..', 'proto');
const flags = [];
for (const [name, value] of Object.entries(LOADER_OPTIONS)) {
  if (value === true) flags.push(`--${name}`);
  else flags.push(`--${name}=${typeof value === 'function' ? value.name : value}`); // Number, String: by name
}
execFileSync(
  path.join(root, 'node_modules', '.bin', 'proto-loader-gen-types'),
  [...flags, '--includeComments', '--grpcLib=@grpc/grpc-js', '-I', protoDir, '-O', path.join(root, 'src', 'generated'),
    ...PROTO_FILES],
  { stdio: 'inherit' });
