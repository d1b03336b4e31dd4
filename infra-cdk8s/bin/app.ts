// The CDK app. Without a `pipeline` in the config: JobsData (queue, table, schedules, image repo),
// JobsApi (Lambda + HTTP API) and JobsCluster (EKS, KEDA, Karpenter, Pod Identity, the job
// manifests), deployed with `cdk deploy --all`. With one: JobsPipeline, which deploys those three
// stacks to every configured stage on each commit. Context: `-c config=<file>` (default
// config.json), `-c imageTag=<tag>` (default the config's; the pipeline passes the commit id).
import { App, Tags } from 'aws-cdk-lib';
import { join, resolve } from 'node:path';
import { DEFAULT_CONFIG, JobsConfig, PIPELINE_STACK, loadConfig } from '../src/config';
import { JobStacks, addJobStacks } from '../src/stacks/jobs';
import { PipelineStack } from '../src/stacks/pipeline-stack';

const DEFAULT_ZIP = join(__dirname, '..', '..', '..', 'dist', 'api-lambda.zip');

/** The config file and the config the app's context selects. */
export function appConfig(app: App): { file: string; cfg: JobsConfig } {
  const file = app.node.tryGetContext('config') ? resolve(app.node.tryGetContext('config')) : DEFAULT_CONFIG;
  const imageTag = app.node.tryGetContext('imageTag');
  return { file, cfg: loadConfig(file, imageTag ? { imageTag: String(imageTag) } : {}) };
}

/** The three stacks, for a deployment by hand. */
export function buildStacks(app: App, lambdaZip = process.env.API_LAMBDA_ZIP ?? DEFAULT_ZIP): JobStacks & { cfg: JobsConfig } {
  const { cfg } = appConfig(app);
  const stacks = addJobStacks(app, cfg, lambdaZip);
  Tags.of(app).add('app', cfg.appName);
  return { cfg, ...stacks };
}

/** The delivery pipeline and, inside it, one stage per configured environment. */
export function buildPipeline(app: App, lambdaZip = process.env.API_LAMBDA_ZIP ?? DEFAULT_ZIP): { cfg: JobsConfig; pipeline: PipelineStack } {
  const { file, cfg } = appConfig(app);
  if (!cfg.pipeline) throw new Error(`config ${file} has no pipeline`);
  const pipeline = new PipelineStack(app, PIPELINE_STACK, cfg, {
    env: { account: cfg.pipeline.account, region: cfg.pipeline.region },
    configFile: file,
    lambdaZip,
    description: 'KEDA + SQS jobs: delivery pipeline (CDK Pipelines)',
  });
  Tags.of(app).add('app', cfg.appName);
  return { cfg, pipeline };
}

if (require.main === module) {
  const app = new App();
  if (appConfig(app).cfg.pipeline) buildPipeline(app);
  else buildStacks(app);
  app.synth();
}
