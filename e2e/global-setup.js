// Builds the apistore binary once per run; workers find it through APISTORE_BIN.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

module.exports = function globalSetup() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'apistore-bin-'));
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  const bin = path.join(dir, 'apistore');
  try {
    execFileSync('go', ['build', '-o', bin, './cmd/apistore'], {
      cwd: path.resolve(__dirname, '..'),
      stdio: 'inherit',
    });
  } catch (err) {
    removeDir();
    throw err;
  }
  process.env.APISTORE_BIN = bin;
  return removeDir;
};
