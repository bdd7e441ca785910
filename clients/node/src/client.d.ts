// Types of src/client.js, over the types proto-loader-gen-types generates from the proto into src/generated/
// (`npm install` / `npm run generate-types`).
import type * as grpc from '@grpc/grpc-js';
import type { PackageDefinition } from '@grpc/proto-loader';
import type { GetProfilesRequest } from './generated/portraitbridge/profile/v1/GetProfilesRequest';
import type { ProfileServiceClient } from './generated/portraitbridge/profile/v1/ProfileService';
import type { ResultCode__Output } from './generated/portraitbridge/profile/v1/ResultCode';
import type { Status__Output } from './generated/google/rpc/Status';

export type { ProfileServiceClient, ResultCode__Output as ResultCode };
export type { AccountResult__Output as AccountResult } from './generated/portraitbridge/profile/v1/AccountResult';
export type { BatchGetProfilesResponse__Output as BatchGetProfilesResponse } from './generated/portraitbridge/profile/v1/BatchGetProfilesResponse';
export type { GetProfilesResponse__Output as GetProfilesResponse } from './generated/portraitbridge/profile/v1/GetProfilesResponse';

export const SERVICE: 'portraitbridge.profile.v1.ProfileService';

export interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}

export interface FieldViolation {
  field: string;
  description: string;
}

/** A non-OK gRPC status with its google.rpc.Status details decoded. */
export class PortraitError extends Error {
  constructor(code: grpc.status, message: string, details?: {
    errorInfo?: ErrorInfo | null; fieldViolations?: FieldViolation[]; retryDelayMs?: number | null;
    otherDetails?: string[];
  });
  code: grpc.status;
  codeName: string;
  rawMessage: string;
  errorInfo: ErrorInfo | null;
  fieldViolations: FieldViolation[];
  retryDelayMs: number | null;
  otherDetails: string[];
  /** The Tencent code from ErrorInfo metadata "tencent_code", or 0. */
  readonly tencentCode: number;
  /** Whether the bridge marked the failure retryable. */
  readonly retryable: boolean;
}

/** A profile field's value: integer fields as numbers, string fields as strings, custom bytes tags as Buffers. */
export type FieldValue = number | string | Buffer | null;

export interface AccountProfile {
  account: string;
  fields: Record<string, FieldValue>;
  resultCode: ResultCode__Output;
  tencentCode: number;
  resultInfo: string;
  error: PortraitError | null;
  ok: boolean;
}

export interface Lookup {
  accounts: string[];
  tags: string[];
  requestId?: string;
}

export interface Batch {
  requestIndex: number;
  requestId: string;
  results: AccountProfile[];
  requestComplete: boolean;
  error: PortraitError | null;
  ok: boolean;
}

export interface ClientOptions {
  deadlineMs?: number;
  tls?: { rootCerts?: Buffer; privateKey?: Buffer; certChain?: Buffer; serverName?: string } | null;
  protoDir?: string;
}

export class ProfileClient {
  constructor(target: string, options?: ClientOptions);
  /** The generated client, for calls this wrapper does not make. */
  readonly stub: ProfileServiceClient;
  readonly definitions: PackageDefinition;
  deadlineMs: number;
  close(): void;
  /** BatchGetProfiles: one AccountProfile per entry of `accounts`, in the same order. */
  batchGet(accounts: string[], tags: string[]): Promise<AccountProfile[]>;
  /** The GetProfiles stream: each response as it arrives. */
  stream(lookups: Iterable<Lookup> | AsyncIterable<Lookup>): AsyncGenerator<Batch, void, undefined>;
  /** Any number of accounts over one stream, collected in input order. */
  bulkGet(accounts: string[], tags: string[], options?: { chunk?: number }): Promise<AccountProfile[]>;
}

export function decodeStatus(definitions: PackageDefinition, status: Status__Output | null | undefined): PortraitError | null;
export function loadDefinitions(protoDir?: string): PackageDefinition;

// Request messages as the generated client takes them (for callers of `stub`).
export type { GetProfilesRequest };
