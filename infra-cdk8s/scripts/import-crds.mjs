// Generates typed cdk8s constructs for the KEDA and Karpenter CRDs into imports/ (git-ignored).
// Source: ../shared/crds/ (the exact upstream files; CRDS_DIR overrides), else the upstream
// release URLs when that folder is absent. Skips work when imports/ is newer than every source.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const crdsDir = resolve(root, process.env.CRDS_DIR ?? '../../shared/crds');
const outDir = join(root, 'imports');

// prefix (module name under imports/) -> CRD file name and its upstream release URL.
const crds = [
  ['keda-scaledjob', 'keda.sh_scaledjobs.yaml',
    'https://raw.githubusercontent.com/kedacore/keda/v2.20.2/config/crd/bases/keda.sh_scaledjobs.yaml'],
  ['keda-triggerauthentication', 'keda.sh_triggerauthentications.yaml',
    'https://raw.githubusercontent.com/kedacore/keda/v2.20.2/config/crd/bases/keda.sh_triggerauthentications.yaml'],
  ['karpenter-nodepool', 'karpenter.sh_nodepools.yaml',
    'https://raw.githubusercontent.com/aws/karpenter-provider-aws/v1.14.1/pkg/apis/crds/karpenter.sh_nodepools.yaml'],
  ['karpenter-ec2nodeclass', 'karpenter.k8s.aws_ec2nodeclasses.yaml',
    'https://raw.githubusercontent.com/aws/karpenter-provider-aws/v1.14.1/pkg/apis/crds/karpenter.k8s.aws_ec2nodeclasses.yaml'],
];

const local = existsSync(crdsDir);
if (!local) console.error(`import-crds: ${crdsDir} not found; using the upstream release URLs`);
mkdirSync(outDir, { recursive: true });
const cli = join(root, 'node_modules', '.bin', 'cdk8s');
for (const [prefix, file, url] of crds) {
  const source = local ? join(crdsDir, file) : url;
  const target = join(outDir, `${prefix}-${file.split('_')[0]}.ts`); // cdk8s names it <prefix>-<group>.ts
  if (local && existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) continue;
  try {
    execFileSync(cli, ['import', '--no-check-upgrade', '--language', 'typescript', '--output', outDir,
      `${prefix}:=${source}`], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' } });
  } catch {
    console.error(`import-crds: cannot import ${source}. Put the CRDs in ${crdsDir} or point CRDS_DIR at them.`);
    process.exit(1);
  }
  console.error(`import-crds: ${prefix} <- ${source}`);
}
