// The three stacks of one environment, for the app (deployed by hand) and for each pipeline stage.
import { Construct } from 'constructs';
import { JobsConfig } from '../config';
import { ApiStack } from './api-stack';
import { ClusterStack } from './cluster-stack';
import { DataStack } from './data-stack';

export interface JobStacks {
  readonly data: DataStack;
  readonly api: ApiStack;
  readonly cluster: ClusterStack;
}

/** JobsData, JobsCluster and JobsApi under `scope`, deployed in that order. */
export function addJobStacks(scope: Construct, cfg: JobsConfig, lambdaZip: string): JobStacks {
  const env = { account: cfg.account, region: cfg.region };
  const data = new DataStack(scope, 'JobsData', cfg, { env, description: 'KEDA + SQS jobs: queue, DLQ, table, schedules, image repository' });
  const api = new ApiStack(scope, 'JobsApi', cfg, { env, data, lambdaZip, description: 'KEDA + SQS jobs: job API (Lambda + HTTP API)' });
  const cluster = new ClusterStack(scope, 'JobsCluster', cfg, { env, data, description: 'KEDA + SQS jobs: EKS, KEDA, Karpenter, Pod Identity, the job manifests' });
  // One order for every deploy, by hand (`cdk deploy --all`) or by the pipeline: the workers
  // before the API that can submit what only new workers run (a new kind, a new field). Workers
  // defer a message they cannot run for SKEW_WINDOW_SECS, so the other order is safe only while
  // a rollout takes less than that (docs/deploy.md).
  api.addStackDependency(cluster, 'deploy order: data, cluster (workers), API');
  return { data, api, cluster };
}
