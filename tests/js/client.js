// An independent TUF client (tuf-js) for tufrepo's tests.
// usage: node client.js METADATA_URL TARGETS_URL ROOT_FILE OUT_DIR [TARGET...]
// Prints one JSON line {"ok": true, "targets": {path: sha256}} or exits 1 with the error.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Updater } = require('tuf-js');

async function main() {
  const [metadataUrl, targetsUrl, rootFile, outDir, ...targets] = process.argv.slice(2);
  const metadataDir = path.join(outDir, 'metadata');
  const targetDir = path.join(outDir, 'targets');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  fs.copyFileSync(rootFile, path.join(metadataDir, 'root.json'));
  const updater = new Updater({
    metadataBaseUrl: metadataUrl.replace(/\/$/, ''),
    targetBaseUrl: targetsUrl.replace(/\/$/, ''),
    metadataDir,
    targetDir,
  });
  await updater.refresh();
  const result = {};
  for (const target of targets) {
    const info = await updater.getTargetInfo(target);
    if (!info) throw new Error(`no target ${target}`);
    const file = await updater.downloadTarget(info, path.join(targetDir, target.replace(/\//g, '_')));
    result[target] = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  }
  console.log(JSON.stringify({ ok: true, targets: result }));
}

main().catch((error) => {
  console.error(`tuf-js: ${error.name}: ${error.message}`);
  process.exit(1);
});
