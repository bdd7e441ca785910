'use strict';
// Looks up a few profiles through Portrait Bridge:  node clients/node/example.js 127.0.0.1:50051
const { ProfileClient, PortraitError } = require('./src/client');

async function main() {
  const client = new ProfileClient(process.argv[2] || '127.0.0.1:50051', { deadlineMs: 10000 });
  const tags = ['Tag_Profile_IM_Nick', 'Tag_Profile_IM_BirthDay'];
  try {
    // Lookups: the unary BatchGetProfiles, one result per account in request order.
    for (const profile of await client.batchGet(['alice', 'nobody'], tags)) {
      if (profile.ok) console.log(`${profile.account}: ${JSON.stringify(profile.fields)}`);
      else console.log(`${profile.account}: failed: ${profile.error}`);
    }
    // Bulk and pipelining: three requests on one bidi stream; results arrive per upstream call, tagged with the
    // request they answer. The third has no tags: the bridge refuses it in-band and the stream goes on.
    for await (const batch of client.stream([
      { requestId: 'first', accounts: ['alice', 'nobody'], tags },
      { requestId: 'second', accounts: ['bob'], tags: tags.slice(0, 1) },
      { requestId: 'third', accounts: ['carol'], tags: [] },
    ])) {
      if (!batch.ok) console.log(`stream ${batch.requestId}: refused: ${batch.error}`);
      for (const profile of batch.results) {
        if (profile.ok) console.log(`stream ${batch.requestId} ${profile.account}: ${JSON.stringify(profile.fields)}`);
        else console.log(`stream ${batch.requestId} ${profile.account}: failed: ${profile.error}`);
      }
    }
  } catch (error) {
    if (!(error instanceof PortraitError)) throw error;
    console.error(`call failed: ${error}`);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

main();
