// The CDK app: JobsData (queue, table, schedules, image repo), JobsApi (Lambda + HTTP API) and
// JobsCluster (EKS, KEDA, Karpenter, Pod Identity). Values come from config.json (src/config.ts).
import { App, Tags } from 'aws-cdk-lib';
import { join } from 'node:path';
import { loadConfig } from '../src/config';
import { ApiStack } from '../src/stacks/api-stack';
import { ClusterStack } from '../src/stacks/cluster-stack';
import { DataStack } from '../src/stacks/data-stack';

export function buildApp(app: App, lambdaZip = process.env.API_LAMBDA_ZIP ?? join(__dirname, '..', '..', '..', 'dist', 'api-lambda.zip')) {
  const cfg = loadConfig();
  const env = { account: cfg.account, region: cfg.region };
  const data = new DataStack(app, 'JobsData', cfg, { env, description: 'KEDA + SQS jobs: queue, DLQ, table, schedule group, image repository' });
  const api = new ApiStack(app, 'JobsApi', cfg, { env, data, lambdaZip, description: 'KEDA + SQS jobs: job API (Lambda + HTTP API)' });
  const cluster = new ClusterStack(app, 'JobsCluster', cfg, { env, data, description: 'KEDA + SQS jobs: EKS, KEDA, Karpenter, Pod Identity' });
  Tags.of(app).add('app', cfg.appName);
  return { cfg, data, api, cluster };
}

if (require.main === module) {
  const app = new App();
  buildApp(app);
  app.synth();
}
