// Writes the Kubernetes manifests (keda/, karpenter/) under --out (default: the repository root).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadConfig } from '../src/config';
import { renderManifests } from '../src/k8s/manifests';

const outFlag = process.argv.indexOf('--out');
const out = resolve(outFlag > 0 ? process.argv[outFlag + 1] : join(__dirname, '..', '..', '..'));
for (const [path, text] of renderManifests(loadConfig())) {
  const file = join(out, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.error(`wrote ${file}`);
}
