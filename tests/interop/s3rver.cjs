// Starts @20minutes/s3rver (a local S3 server that checks AWS signature v4) for the S3 store
// tests. The package's lib/cli.js only builds its command line and has no executable, so this
// runs it: node s3rver.cjs -d <dir> -a 127.0.0.1 -p <port> -s --configure-bucket <bucket>
// Its credentials are fixed: access key S3RVER, secret S3RVER.
'use strict';
require('@20minutes/s3rver/lib/cli.js')
  .parseAsync(process.argv.slice(2), { from: 'user' })
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
