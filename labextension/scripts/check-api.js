// Fails when src/api/openapi.json or src/api/schema.ts differ from what the server's route table gives
// now (run `jlpm build:api` to regenerate both). Needs python with jupyter_jobs importable.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const here = path.resolve(__dirname, '..');
const python = process.env.PYTHON || 'python';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jobs-api-'));
const doc = execFileSync(python, ['-m', 'jupyter_jobs.server.openapi'], { cwd: path.dirname(here) });
fs.writeFileSync(path.join(tmp, 'openapi.json'), doc);
execFileSync(
  path.join(here, 'node_modules', '.bin', 'openapi-typescript'),
  [path.join(tmp, 'openapi.json'), '--default-non-nullable', 'false', '--enum-values', '-o', path.join(tmp, 'schema.ts')],
  { stdio: 'ignore' }
);
let stale = [];
for (const name of ['openapi.json', 'schema.ts']) {
  const committed = path.join(here, 'src', 'api', name);
  const fresh = fs.readFileSync(path.join(tmp, name), 'utf8');
  if (!fs.existsSync(committed) || fs.readFileSync(committed, 'utf8') !== fresh) {
    stale.push(`src/api/${name}`);
  }
}
fs.rmSync(tmp, { recursive: true, force: true });
if (stale.length) {
  console.error(`out of date: ${stale.join(', ')} (run \`jlpm build:api\` in labextension/)`);
  process.exit(1);
}
console.log('src/api/openapi.json and src/api/schema.ts are up to date');
