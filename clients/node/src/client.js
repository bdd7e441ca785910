'use strict';
// What @grpc/proto-loader's generated client does not do for Portrait Bridge (portraitbridge.profile.v1): decode
// google.rpc error details into PortraitError, type field values, and collect the GetProfiles stream for bulk. The
// schema is loaded from proto/ at run time; its TypeScript types are generated into src/generated/ for the same
// loader options (src/proto-options.js), and src/client.d.ts types this module with them.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const { PROTO_FILES, LOADER_OPTIONS } = require('./proto-options');

const DEFAULT_PROTO_DIR = path.resolve(__dirname, '..', '..', '..', 'proto');
const SERVICE = 'portraitbridge.profile.v1.ProfileService';
const DETAILS_TRAILER = 'grpc-status-details-bin';
const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, number]) => [number, name]));

/** Loads profile.proto and the google.rpc details from `protoDir` (default: the repository's proto/). */
function loadDefinitions(protoDir = process.env.PROTO_DIR || DEFAULT_PROTO_DIR) {
  return protoLoader.loadSync(PROTO_FILES, { ...LOADER_OPTIONS, includeDirs: [protoDir] });
}

/**
 * A non-OK gRPC status with its google.rpc.Status details decoded: thrown when a stream fails (and by `get()` for a
 * refused request), the `error` of a batch whose request the bridge refused in-band, and the `error` of an
 * AccountProfile that failed.
 */
class PortraitError extends Error {
  constructor(code, message, { errorInfo = null, fieldViolations = [], retryDelayMs = null, otherDetails = [] } = {}) {
    super(message);
    this.name = 'PortraitError';
    this.code = code; // numeric, as grpc.status
    this.codeName = CODE_NAMES[code] || `CODE_${code}`;
    this.rawMessage = message;
    this.errorInfo = errorInfo; // {reason, domain, metadata} or null
    this.fieldViolations = fieldViolations; // [{field, description}] from google.rpc.BadRequest
    this.retryDelayMs = retryDelayMs; // from google.rpc.RetryInfo, or null
    this.otherDetails = otherDetails; // type names this client does not decode
    this.message = this.toString();
  }

  /** The Tencent code from ErrorInfo metadata "tencent_code", or 0. */
  get tencentCode() {
    return this.errorInfo ? Number(this.errorInfo.metadata.tencent_code || 0) : 0;
  }

  /** Whether the bridge marked the failure retryable. */
  get retryable() {
    return Boolean(this.errorInfo && this.errorInfo.metadata.retryable === 'true');
  }

  toString() {
    let text = this.rawMessage ? `${this.codeName}: ${this.rawMessage}` : this.codeName;
    const facts = [];
    if (this.errorInfo) {
      facts.push(`reason=${this.errorInfo.reason}`);
      if (this.errorInfo.domain) facts.push(`domain=${this.errorInfo.domain}`);
      for (const key of Object.keys(this.errorInfo.metadata).sort()) facts.push(`${key}=${this.errorInfo.metadata[key]}`);
    }
    for (const v of this.fieldViolations) facts.push(`field ${v.field}: ${v.description}`);
    if (this.retryDelayMs !== null) facts.push(`retry after ${this.retryDelayMs} ms`);
    for (const type of this.otherDetails) facts.push(`detail ${type}`);
    if (facts.length) text += ` [${facts.join('; ')}]`;
    return text;
  }
}

/** Decodes a google.rpc.Status object (as proto-loader returns it); null when it is OK. */
function decodeStatus(definitions, status) {
  if (!status || !status.code) return null;
  const decoded = { errorInfo: null, fieldViolations: [], retryDelayMs: null, otherDetails: [] };
  for (const detail of status.details || []) {
    const typeName = detail.type_url.slice(detail.type_url.lastIndexOf('/') + 1);
    const type = definitions[typeName];
    if (!type || !type.deserialize) {
      decoded.otherDetails.push(typeName);
      continue;
    }
    const message = type.deserialize(detail.value);
    if (typeName === 'google.rpc.ErrorInfo') {
      decoded.errorInfo = { reason: message.reason, domain: message.domain, metadata: { ...message.metadata } };
    } else if (typeName === 'google.rpc.BadRequest') {
      for (const v of message.field_violations) decoded.fieldViolations.push({ field: v.field, description: v.description });
    } else if (typeName === 'google.rpc.RetryInfo') {
      const delay = message.retry_delay || { seconds: '0', nanos: 0 };
      decoded.retryDelayMs = Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6);
    } else {
      decoded.otherDetails.push(typeName);
    }
  }
  return new PortraitError(status.code, status.message, decoded);
}

/** Decodes the error of a failed call, including the details in its grpc-status-details-bin trailer. */
function decodeCallError(definitions, error) {
  const raw = error.metadata && error.metadata.get(DETAILS_TRAILER)[0];
  if (raw) {
    const decoded = decodeStatus(definitions, definitions['google.rpc.Status'].deserialize(raw));
    if (decoded) {
      decoded.code = error.code; // the trailer's code is authoritative
      decoded.codeName = CODE_NAMES[error.code];
      decoded.message = decoded.toString();
      return decoded;
    }
  }
  return new PortraitError(error.code, error.details || error.message);
}

/** The typed outcome for one account. `fields` maps each tag to a number, a string, a Buffer or null. */
function toAccountProfile(definitions, result) {
  const fields = {};
  for (const item of result.items) {
    const which = item.value; // the name of the oneof member that is set
    if (which) fields[item.tag] = item[which];
    else fields[item.tag] = null;
  }
  const error = decodeStatus(definitions, result.status);
  return {
    account: result.account,
    fields,
    resultCode: result.result_code, // enum name, e.g. "RESULT_CODE_PROFILE_ACCOUNT_NOT_FOUND"
    tencentCode: result.tencent_code,
    resultInfo: result.result_info,
    error,
    ok: error === null,
  };
}

class ProfileClient {
  /**
   * @param {string} target "host:port" or any gRPC target.
   * @param {object} [options]
   * @param {number} [options.deadlineMs=30000] deadline of each call: a BatchGetProfiles, or a stream to its last
   *     response.
   * @param {object} [options.tls] use TLS: {rootCerts, privateKey, certChain} as Buffers (all optional) and
   *     serverName to expect in the server certificate.
   * @param {string} [options.protoDir] where proto/ is (default: the repository's, or $PROTO_DIR).
   */
  constructor(target, { deadlineMs = 30000, tls = null, protoDir } = {}) {
    this.definitions = loadDefinitions(protoDir);
    const Service = grpc.loadPackageDefinition(this.definitions).portraitbridge.profile.v1.ProfileService;
    const credentials = tls
      ? grpc.credentials.createSsl(tls.rootCerts || null, tls.privateKey || null, tls.certChain || null)
      : grpc.credentials.createInsecure();
    const channelOptions = tls && tls.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {};
    this.stub = new Service(target, credentials, channelOptions); // the generated client, typed in client.d.ts
    this.deadlineMs = deadlineMs;
  }

  close() {
    this.stub.close();
  }

  /**
   * Sends the lookups ({accounts, tags, requestId}) on one bidi GetProfiles stream and yields each response as
   * {requestIndex, requestId, results, requestComplete, error, ok}. `lookups` may be any (async) iterable: requests
   * are written with backpressure while responses are read. A request's results may be split over several batches;
   * the last has `requestComplete`. A request the bridge refuses as invalid is yielded as one batch with no results
   * whose `error` is a PortraitError (INVALID_ARGUMENT, `fieldViolations` such as `requests[1].tags`) and `ok`
   * false, and the stream goes on; otherwise `error` is null. A failure of the stream throws a PortraitError after
   * the results that arrived before it; per-account failures are in each result's `error`.
   */
  async *stream(lookups) {
    const call = this.stub.GetProfiles({ deadline: Date.now() + this.deadlineMs });
    let writeError = null;
    const writing = (async () => {
      for await (const lookup of lookups) {
        const request = { request_id: lookup.requestId || '', accounts: lookup.accounts, tags: lookup.tags };
        if (!call.write(request)) await new Promise((resolve) => call.once('drain', resolve));
      }
      call.end();
    })().catch((error) => {
      writeError = error;
      call.cancel();
    });
    try {
      for await (const response of call) {
        const error = decodeStatus(this.definitions, response.status); // the request's in-band refusal, or null
        yield {
          requestIndex: response.request_index,
          requestId: response.request_id,
          results: response.results.map((result) => toAccountProfile(this.definitions, result)),
          requestComplete: response.request_complete,
          error,
          ok: error === null,
        };
      }
    } catch (error) {
      if (writeError) throw writeError;
      if (typeof error.code !== 'number' || !error.metadata) throw error; // not a gRPC status: a local bug
      throw decodeCallError(this.definitions, error);
    } finally {
      call.cancel(); // no-op once the call has finished; stops it if the caller left the loop early
      await writing;
    }
  }

  /**
   * BatchGetProfiles: resolves to one AccountProfile per entry of `accounts`, in the same order, with per-account
   * failures in each profile's `error`. Rejects with a PortraitError when the call fails as a whole
   * (INVALID_ARGUMENT with `fieldViolations` for a bad account or tag, and the others the proto documents).
   */
  batchGet(accounts, tags) {
    return new Promise((resolve, reject) => {
      this.stub.BatchGetProfiles({ accounts, tags }, { deadline: Date.now() + this.deadlineMs }, (error, response) => {
        if (error) reject(decodeCallError(this.definitions, error));
        else resolve(response.results.map((result) => toAccountProfile(this.definitions, result)));
      });
    });
  }

  /**
   * Any number of accounts over one GetProfiles stream, in requests of `chunk` accounts; resolves to one
   * AccountProfile per account in input order. Rejects with a PortraitError if the stream fails, or if the bridge
   * refuses a request (INVALID_ARGUMENT with its `fieldViolations`, e.g. `requests[0].tags` for an empty tag list).
   */
  async bulkGet(accounts, tags, { chunk = 1000 } = {}) {
    const lookups = [];
    for (let start = 0; start < accounts.length; start += chunk) {
      lookups.push({ accounts: accounts.slice(start, start + chunk), tags });
    }
    // Results arrive per upstream call, in completion order: keep them by request and account, then hand them out
    // in input order (each entry is answered once, so an account listed twice has two results).
    const pending = lookups.map(() => new Map());
    for await (const batch of this.stream(lookups)) {
      if (batch.error) throw batch.error;
      const byAccount = pending[batch.requestIndex];
      for (const profile of batch.results) {
        if (!byAccount.has(profile.account)) byAccount.set(profile.account, []);
        byAccount.get(profile.account).push(profile);
      }
    }
    return lookups.flatMap((lookup, index) => lookup.accounts.map((account) => {
      const answer = (pending[index].get(account) || []).shift();
      if (!answer) throw new Error(`the bridge answered no result for ${JSON.stringify(account)} in request ${index}`);
      return answer;
    }));
  }
}

module.exports = { ProfileClient, PortraitError, decodeStatus, loadDefinitions, SERVICE };
