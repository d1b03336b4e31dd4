// The one source of the values shared by the AWS CDK stacks and the cdk8s charts.
//
// Names and URLs that Kubernetes needs (queue URL, image, node role) are derived here from
// config.json, so the committed manifests in keda/ and karpenter/ and the CloudFormation
// templates cannot disagree. Queue/table attributes mirror the Rust worker's constants
// (crates/jobs-aws/src/resources.rs); the local stack's parity test checks them against the
// synthesized template.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type LambdaArchitecture = 'x86_64' | 'arm64';
export type WorkerArchitecture = 'amd64' | 'arm64';

/** One environment the pipeline deploys to, in order. */
export interface StageConfig {
  readonly name: string;
  readonly account: string;
  readonly region: string;
  /** A manual approval before this stage deploys (production). */
  readonly approval?: boolean;
}

/** The delivery pipeline (JobsPipeline); without it the app is the three stacks, deployed by hand. */
export interface PipelineConfig {
  /** Where the pipeline itself runs. */
  readonly account: string;
  readonly region: string;
  /** A CodeConnections (formerly CodeStar Connections) connection to GitHub, created once in the console. */
  readonly connectionArn: string;
  /** owner/name on GitHub. */
  readonly repository: string;
  readonly branch: string;
  readonly stages: StageConfig[];
}

export interface FileConfig {
  readonly appName: string;
  readonly account: string;
  readonly region: string;
  readonly imageTag: string;
  readonly lambdaArchitecture: LambdaArchitecture;
  readonly workerArchitecture: WorkerArchitecture;
  readonly maxJobs: number;
  readonly retainData: boolean;
  /** Optional; default: <region>a, b and c (fixed so synth needs no AWS lookups). */
  readonly availabilityZones?: string[];
  readonly pipeline?: PipelineConfig;
  /** JobsCluster applies keda/ and karpenter/ (default true); false when a GitOps tool
   * (Argo CD, Flux) applies the committed YAML instead, so two owners never fight over them. */
  readonly applyManifests?: boolean;
  /** Where the alarms also go by e-mail (the SNS topic is created either way). */
  readonly alarmEmail?: string;
}

export interface JobsConfig extends FileConfig {
  readonly availabilityZones: string[];
  readonly queueName: string;
  readonly dlqName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly tableName: string;
  readonly scheduleGroup: string;
  readonly ecrRepositoryName: string;
  readonly image: string;
  readonly clusterName: string;
  readonly karpenterNodeRoleName: string;
  readonly karpenterInterruptionQueueName: string;
  /** The jobs namespace's container logs (Fluent Bit ships them; the worker names it in each attempt). */
  readonly jobLogGroupName: string;
  /** Kubernetes namespace and service account of the worker Jobs. */
  readonly namespace: string;
  readonly workerServiceAccount: string;
  /** Service account of the reconciler CronJob. */
  readonly reconcilerServiceAccount: string;
  /** KEDA's operator identity (namespace/service account from the KEDA Helm chart). */
  readonly kedaNamespace: string;
  readonly kedaServiceAccount: string;
  readonly karpenterNamespace: string;
  readonly karpenterServiceAccount: string;
  /** Label and taint that reserve the spot NodePool for job pods. */
  readonly nodePoolName: string;
  readonly nodeLabelKey: string;
  readonly nodeLabelValue: string;
}

/** Queue, DLQ and table attributes; the Rust side's constants are the same numbers. */
export const QUEUE = {
  visibilityTimeoutSecs: 60,
  maxReceiveCount: 10,
  retentionDays: 14,
} as const;
export const TABLE = {
  partitionKey: 'pk',
  ttlAttribute: 'expiresAt',
  /** The sparse index of jobs that have not ended, by due time (crates/jobs-aws/src/resources.rs). */
  dueIndex: { name: 'due', partitionKey: 'dueShard', sortKey: 'dueAt' },
  /** GET /jobs: one keys-only index per filter, newest first by createdAt. */
  listIndexes: [
    { name: 'by-created', partitionKey: 'listAll' },
    { name: 'by-status', partitionKey: 'status' },
    { name: 'by-kind', partitionKey: 'kind' },
    { name: 'by-schedule', partitionKey: 'schedule' },
    // Who triggered the job (submittedBy): written once per job, so one index write per job.
    { name: 'by-submitter', partitionKey: 'submittedBy' },
  ],
  listSortKey: 'createdAt',
} as const;
/** Worker policy as deployed (the binary's defaults): 3 attempts. */
export const WORKER = {
  maxAttempts: 3,
  /** Longest job the kinds allow (sleep <= 1 h) plus start-up margin. */
  activeDeadlineSecs: 3900,
  /** SIGTERM: the worker records the interruption and releases the message in milliseconds. */
  terminationGracePeriodSecs: 30,
  /** The worker's own per-attempt limit: below the deadline, so a hung job fails as timed out. */
  attemptTimeoutSecs: 3780,
} as const;
/** The reconciler CronJob: every minute, one pass every 10 s for 50 s (concurrency Forbid). */
export const RECONCILER = {
  schedule: '* * * * *',
  everySecs: 10,
  forSecs: 50,
  activeDeadlineSecs: 120,
} as const;
export const VERSIONS = {
  keda: '2.20.2',
  karpenter: '1.14.1',
  /** public.ecr.aws/aws-observability/aws-for-fluent-bit, the log shipper's image. */
  awsForFluentBit: '2.32.2.20240516',
} as const;
/** CloudWatch: the worker's metrics (data-processor/src/emf.rs) and the log shipper. */
export const METRICS = {
  /** The worker's METRICS_NAMESPACE default. */
  namespace: 'KedaSqsJobs',
  fluentBitNamespace: 'logging',
  fluentBitServiceAccount: 'fluent-bit',
  /** The oldest-message alarm: a job waiting this long means Jobs do not start. */
  oldestMessageAlarmMinutes: 30,
} as const;

/** The pipeline's stack name: the roles its steps run as are named after it. */
export const PIPELINE_STACK = 'JobsPipeline';
/** Only the pipeline's own roles (CloudFormation names them after its stack) may act across accounts. */
export const pipelineRoles = (pipelineAccount: string) => `arn:aws:iam::${pipelineAccount}:role/${PIPELINE_STACK}-*`;
/** The role each stage's API trusts for the pipeline's post-deploy check. */
export const deployCheckRoleName = (cfg: FileConfig) => `${cfg.appName}-deploy-check`;

export const DEFAULT_CONFIG = join(__dirname, '..', '..', 'config.json');
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
/** An ECR tag (a release like 0.1.0, or a commit id from the pipeline). */
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const CONNECTION_ARN = /^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection\/[0-9a-f-]{36}$/;

function checkPipeline(p: PipelineConfig): void {
  if (!ACCOUNT.test(p.account) || !REGION.test(p.region)) throw new Error('config: pipeline.account/region are invalid');
  if (!CONNECTION_ARN.test(p.connectionArn)) throw new Error(`config: pipeline.connectionArn is not a connection ARN: ${p.connectionArn}`);
  if (!/^[\w.-]+\/[\w.-]+$/.test(p.repository)) throw new Error('config: pipeline.repository is owner/name');
  if (!p.branch) throw new Error('config: pipeline.branch is required');
  if (!Array.isArray(p.stages) || p.stages.length === 0) throw new Error('config: pipeline.stages lists at least one stage');
  const names = new Set<string>();
  for (const s of p.stages) {
    if (!/^[A-Za-z][A-Za-z0-9-]{0,30}$/.test(s.name) || names.has(s.name)) throw new Error(`config: stage name ${s.name} is invalid or repeated`);
    if (!ACCOUNT.test(s.account) || !REGION.test(s.region)) throw new Error(`config: stage ${s.name}: account/region are invalid`);
    names.add(s.name);
  }
  // The stacks' resources have fixed names (queue, table, cluster): one environment per account and region.
  const places = p.stages.map((s) => `${s.account}/${s.region}`);
  if (new Set(places).size !== places.length) throw new Error('config: two pipeline stages share an account and region');
}

export function loadConfig(file = DEFAULT_CONFIG, overrides: Partial<FileConfig> = {}): JobsConfig {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as FileConfig;
  const c: FileConfig = { ...raw, ...overrides };
  if (!ACCOUNT.test(c.account)) throw new Error(`config: account must be 12 digits, got ${c.account}`);
  if (!REGION.test(c.region)) throw new Error(`config: bad region ${c.region}`);
  if (!IMAGE_TAG.test(c.imageTag)) throw new Error(`config: imageTag is not an image tag: ${c.imageTag}`);
  if (c.pipeline) checkPipeline(c.pipeline);
  if (!['x86_64', 'arm64'].includes(c.lambdaArchitecture)) throw new Error('config: lambdaArchitecture is x86_64 or arm64');
  if (!['amd64', 'arm64'].includes(c.workerArchitecture)) throw new Error('config: workerArchitecture is amd64 or arm64');
  if (!Number.isInteger(c.maxJobs) || c.maxJobs < 1) throw new Error('config: maxJobs must be a positive integer');
  if (c.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(c.alarmEmail)) throw new Error(`config: alarmEmail is not an e-mail address: ${c.alarmEmail}`);
  const name = c.appName;
  const queueName = `${name}`;
  const dlqName = `${name}-dlq`;
  const sqsBase = `https://sqs.${c.region}.amazonaws.com/${c.account}`;
  const ecrRepositoryName = `${name}/data-processor`;
  return {
    ...c,
    availabilityZones: c.availabilityZones ?? ['a', 'b', 'c'].map((z) => `${c.region}${z}`),
    queueName,
    dlqName,
    queueUrl: `${sqsBase}/${queueName}`,
    queueArn: `arn:aws:sqs:${c.region}:${c.account}:${queueName}`,
    dlqUrl: `${sqsBase}/${dlqName}`,
    tableName: name,
    scheduleGroup: name,
    ecrRepositoryName,
    image: `${c.account}.dkr.ecr.${c.region}.amazonaws.com/${ecrRepositoryName}:${c.imageTag}`,
    clusterName: name,
    karpenterNodeRoleName: `${name}-karpenter-node`,
    karpenterInterruptionQueueName: `${name}-karpenter-interruption`,
    jobLogGroupName: `/aws/eks/${name}/jobs`,
    namespace: 'jobs',
    workerServiceAccount: 'data-processor',
    reconcilerServiceAccount: 'jobs-reconciler',
    kedaNamespace: 'keda',
    kedaServiceAccount: 'keda-operator',
    karpenterNamespace: 'kube-system',
    karpenterServiceAccount: 'karpenter',
    nodePoolName: 'jobs-spot',
    nodeLabelKey: `${name}/pool`,
    nodeLabelValue: 'jobs',
  };
}
