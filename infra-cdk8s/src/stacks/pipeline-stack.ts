// JobsPipeline: CDK Pipelines delivery of every commit on the configured branch. Source (GitHub
// through a CodeConnections connection) -> synth (the project's own make targets, the image tag is
// the commit id) -> self-mutation -> per stage, in the configured order: [manual approval] ->
// JobsData -> the worker image pushed to that stage's repository -> JobsCluster -> JobsApi -> a
// post-deploy check that submits a noop job through the real API (SigV4) and waits for SUCCEEDED.
import { Stack, StackProps, Stage, StageProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as pipelines from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobsConfig, PipelineConfig, StageConfig, deployCheckRoleName, loadConfig } from '../config';
import { suppress } from './checkov';
import { ECR_PUSH_ACTIONS } from './data-stack';
import { JobStacks, addJobStacks } from './jobs';

/** The pinned CodeBuild image of every step (Ubuntu 22.04, Node 20, Python 3.11, Docker). */
export const BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0;
/** The synth step's second output: the `jobsctl` binary the post-deploy check runs. */
const CHECK_DIR = 'dist/check';
/** The CDK CLI of the self-mutation step: the one package.json pins (never "latest"). */
export const CDK_CLI_VERSION: string = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')).devDependencies['aws-cdk'];
/** cdk-assets of the asset-publishing steps (npm, 2026-12). */
export const CDK_ASSETS_VERSION = '4.7.3';
/** The synth step's runtimes: package.json wants Node 20; the build scripts use Python 3.11. */
const SYNTH_RUNTIMES = codebuild.BuildSpec.fromObject({ phases: { install: { 'runtime-versions': { nodejs: '20', python: '3.11' } } } });

/** One environment: the three stacks with the stage's account, region and this commit's image. */
export class JobsStage extends Stage {
  readonly stacks: JobStacks;
  readonly cfg: JobsConfig;

  constructor(scope: Construct, id: string, cfg: JobsConfig, lambdaZip: string, props: StageProps = {}) {
    super(scope, id, { ...props, env: { account: cfg.account, region: cfg.region } });
    this.cfg = cfg;
    this.stacks = addJobStacks(this, cfg, lambdaZip);
  }
}

export interface PipelineStackProps extends StackProps {
  /** The config file the stages are built from (as the synth step reads it). */
  readonly configFile: string;
  readonly lambdaZip: string;
}

export class PipelineStack extends Stack {
  readonly pipeline: pipelines.CodePipeline;
  readonly stages: JobsStage[];

  constructor(scope: Construct, id: string, cfg: JobsConfig, props: PipelineStackProps) {
    super(scope, id, props);
    const p = cfg.pipeline as PipelineConfig;
    const source = pipelines.CodePipelineSource.connection(p.repository, p.branch, {
      connectionArn: p.connectionArn,
      triggerOnPush: true,
    });
    // The commit id is the image tag: unique per commit, and ECR's tags are immutable.
    const commit = source.sourceAttribute('CommitId');

    const synth = new pipelines.CodeBuildStep('Synth', {
      input: source,
      env: { IMAGE_TAG: commit },
      commands: ['tools/pipeline/synth.sh'],
      partialBuildSpec: SYNTH_RUNTIMES,
      primaryOutputDirectory: 'infra-cdk8s/cdk.out',
    });
    const check = synth.addOutputDirectory(CHECK_DIR);

    this.pipeline = new pipelines.CodePipeline(this, 'Pipeline', {
      pipelineName: `${cfg.appName}-delivery`,
      // V2: billed per action minute, not per month; the type AWS recommends.
      pipelineType: codepipeline.PipelineType.V2,
      synth,
      selfMutation: true,
      cliVersion: CDK_CLI_VERSION,
      cdkAssetsCliVersion: CDK_ASSETS_VERSION,
      // Stages in other accounts read the artifacts through a KMS key (rotated).
      crossAccountKeys: p.stages.some((s) => s.account !== p.account),
      enableKeyRotation: true,
      codeBuildDefaults: { buildEnvironment: { buildImage: BUILD_IMAGE, computeType: codebuild.ComputeType.MEDIUM } },
      // Rust release builds need more than the default small machine.
      synthCodeBuildDefaults: { buildEnvironment: { buildImage: BUILD_IMAGE, computeType: codebuild.ComputeType.LARGE } },
    });

    this.stages = p.stages.map((stage) => {
      const stageCfg = loadConfig(props.configFile, { account: stage.account, region: stage.region, imageTag: cfg.imageTag });
      const jobs = new JobsStage(this, stage.name, stageCfg, props.lambdaZip);
      this.pipeline.addStage(jobs, {
        pre: stage.approval ? [new pipelines.ManualApprovalStep(`Promote-${stage.name}`, { comment: `Deploy ${p.branch} to ${stage.name} (${stage.account}/${stage.region})?` })] : [],
        stackSteps: [{ stack: jobs.stacks.data, post: [pushImage(stageCfg, source, commit)] }],
        post: [deployCheck(stageCfg, stage, jobs, check)],
      });
      return jobs;
    });

    // Build now (instead of at synth) to annotate what CDK Pipelines generates.
    this.pipeline.buildPipeline();
    suppress(this.pipeline.pipeline.artifactBucket, {
      CKV_AWS_18: 'Holds only the pipeline\'s own run artifacts, read and written by its roles; CloudTrail records the access.',
      CKV_AWS_21: 'Each run writes new object keys and every artifact can be rebuilt from its commit; versions would only add cost.',
    });
    for (const child of this.node.findAll()) {
      if (child instanceof iam.CfnPolicy && child.node.path.includes('/Assets/FileRole/')) {
        suppress(child, { CKV_AWS_111: 'CDK Pipelines\' asset-publishing role: codebuild:StartBuild/BatchGetBuilds on * is how CodePipeline runs its own CodeBuild actions.' });
      }
    }
  }
}

/** Builds the worker image (and the command kinds' images built here) from the commit and pushes
 * them to the stage's repositories, tagged with the commit id; a tag already there (a re-run) is
 * kept, as immutable tags require. */
function pushImage(cfg: JobsConfig, source: pipelines.CodePipelineSource, commit: string): pipelines.CodeBuildStep {
  const repositoryArn = `arn:aws:ecr:${cfg.region}:${cfg.account}:repository/${cfg.ecrRepositoryName}`;
  const built = [...cfg.builtImages].map(([dir, b]) => ({ dir, repositoryName: b.repositoryName }));
  return new pipelines.CodeBuildStep('PushWorkerImage', {
    input: source,
    buildEnvironment: { privileged: true }, // docker build
    env: {
      REGISTRY: `${cfg.account}.dkr.ecr.${cfg.region}.amazonaws.com`,
      REPOSITORY: cfg.ecrRepositoryName,
      IMAGE_TAG: commit,
      ECR_REGION: cfg.region,
      // The command kinds' images built from this repository: "<dir>=<repository> ...".
      BUILT_IMAGES: built.map((b) => `${b.dir}=${b.repositoryName}`).join(' '),
    },
    commands: ['tools/pipeline/push-image.sh'],
    rolePolicyStatements: [
      new iam.PolicyStatement({
        sid: 'RegistryLogin',
        actions: ['ecr:GetAuthorizationToken'],
        resources: ['*'], // GetAuthorizationToken has no resource-level permissions
      }),
      new iam.PolicyStatement({
        sid: 'PushWorkerImage',
        actions: ECR_PUSH_ACTIONS,
        resources: [repositoryArn, ...built.map((b) => `arn:aws:ecr:${cfg.region}:${cfg.account}:repository/${b.repositoryName}`)],
      }),
    ],
  });
}

/** Calls the stage's real API as the deploy-check role: submits a noop job, waits until it is
 * SUCCEEDED (a worker pod ran it), reads GET /jobs/stats. Anything else fails the stage. */
function deployCheck(cfg: JobsConfig, stage: StageConfig, jobs: JobsStage, check: pipelines.FileSet): pipelines.CodeBuildStep {
  const role = `arn:aws:iam::${stage.account}:role/${deployCheckRoleName(cfg)}`;
  return new pipelines.CodeBuildStep('DeployCheck', {
    input: check,
    envFromCfnOutputs: { API_URL: jobs.stacks.api.urlOutput },
    env: { CHECK_ROLE_ARN: role, AWS_REGION: stage.region },
    commands: [
      // The standard credential chain assumes the role from the build's own credentials.
      'export AWS_CONFIG_FILE="$PWD/aws-config" AWS_PROFILE=deploy-check',
      'printf "[profile deploy-check]\\nrole_arn = %s\\ncredential_source = EcsContainer\\n" "$CHECK_ROLE_ARN" > "$AWS_CONFIG_FILE"',
      'chmod +x jobsctl && ./jobsctl --api "$API_URL" check --timeout 900',
    ],
    rolePolicyStatements: [new iam.PolicyStatement({ sid: 'AssumeDeployCheckRole', actions: ['sts:AssumeRole'], resources: [role] })],
  });
}
