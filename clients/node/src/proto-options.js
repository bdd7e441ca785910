'use strict';
// The one place for how the schema is loaded: the client loads proto/ at run time with these options, and
// scripts/generate-types.js generates the TypeScript types for exactly these options (proto-loader-gen-types).

const PROTO_FILES = [
  'portraitbridge/profile/v1/profile.proto', 'google/rpc/status.proto', 'google/rpc/error_details.proto'];

// keepCase: field names as in the .proto (snake_case). longs: Number: every integer of the schema is 32-bit (the
// only 64-bit ones left are google.protobuf.Duration seconds, exact as Numbers). enums by name; defaults for unset
// fields; `value` names the set member of the oneof.
const LOADER_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

module.exports = { PROTO_FILES, LOADER_OPTIONS };
