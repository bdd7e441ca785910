// Compiled by `npm run typecheck` (tsc --noEmit), not run: TypeScript usage of the client and of the generated
// types. Each @ts-expect-error must be an error, so the check fails if a generated type degrades to `any`.
import { ProfileClient, PortraitError } from '../src/client';
import type { AccountProfile, Batch, GetProfilesResponse, ResultCode } from '../src/client';

async function lookups(client: ProfileClient): Promise<void> {
  const profiles: AccountProfile[] = await client.batchGet(['alice'], ['Tag_Profile_IM_Nick']);
  const code: ResultCode = profiles[0].resultCode;
  const ok: boolean = code === 'RESULT_CODE_OK';
  // @ts-expect-error result codes are enum names from the proto
  const wrong: ResultCode = 'RESULT_CODE_SUCCESS';
  const tencent: number = profiles[0].tencentCode;
  const error: PortraitError | null = profiles[0].error;
  const reason: string | undefined = error?.errorInfo?.reason;
  for await (const batch of client.stream([{ accounts: ['bob'], tags: ['Tag_Profile_IM_Nick'] }])) {
    const b: Batch = batch;
    const index: number = b.requestIndex;
    // @ts-expect-error request_index is a number (uint32), not a string
    const asText: string = b.requestIndex;
    void [index, asText];
  }
  const bulk: AccountProfile[] = await client.bulkGet(['carol'], ['Tag_Profile_IM_Nick'], { chunk: 500 });
  void [ok, wrong, tencent, reason, bulk];
}

function generatedStub(client: ProfileClient): void {
  client.stub.BatchGetProfiles({ accounts: ['alice'], tags: ['Tag_Profile_IM_Nick'] }, (error, response) => {
    const index: number | undefined = response?.results[0]?.tencent_code;
    // @ts-expect-error the generated request type has no such field
    client.stub.BatchGetProfiles({ account: 'alice' }, () => {});
    void [error, index];
  });
  const call = client.stub.GetProfiles();
  call.on('data', (response: GetProfilesResponse) => {
    const index: number = response.request_index; // a number, not a string
    const value = response.results[0]?.items[0];
    const birthday: number | undefined = value?.value === 'uint_value' ? value.uint_value : undefined;
    void [index, birthday];
  });
  call.end();
}

void [lookups, generatedStub];
