'use strict';
// Looks up a few profiles through Portrait Bridge:  node clients/node/example.js 127.0.0.1:50051
const { ProfileClient, PortraitError } = require('./src/client');

async function main() {
  const client = new ProfileClient(process.argv[2] || '127.0.0.1:50051', { deadlineMs: 10000 });
  const tags = ['Tag_Profile_IM_Nick', 'Tag_Profile_IM_BirthDay'];
  try {
    // Three requests on one bidi stream; results arrive per upstream call, tagged with the request they answer.
    // The third has no tags: the bridge refuses it in-band and the stream goes on.
    for await (const batch of client.stream([
      { requestId: 'first', accounts: ['alice', 'nobody'], tags },
      { requestId: 'second', accounts: ['bob'], tags: tags.slice(0, 1) },
      { requestId: 'third', accounts: ['carol'], tags: [] },
    ])) {
      if (!batch.ok) console.log(`${batch.requestId}: refused: ${batch.error}`);
      for (const profile of batch.results) {
        if (profile.ok) console.log(`${batch.requestId} ${profile.account}: ${JSON.stringify(profile.fields)}`);
        else console.log(`${batch.requestId} ${profile.account}: failed: ${profile.error}`);
      }
    }
  } catch (error) {
    if (!(error instanceof PortraitError)) throw error;
    console.error(`stream failed: ${error}`);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

main();
