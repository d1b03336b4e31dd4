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
} as const;

export function loadConfig(file = join(__dirname, '..', '..', 'config.json'), overrides: Partial<FileConfig> = {}): JobsConfig {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as FileConfig;
  const c: FileConfig = { ...raw, ...overrides };
  if (!/^\d{12}$/.test(c.account)) throw new Error(`config: account must be 12 digits, got ${c.account}`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(c.region)) throw new Error(`config: bad region ${c.region}`);
  if (!['x86_64', 'arm64'].includes(c.lambdaArchitecture)) throw new Error('config: lambdaArchitecture is x86_64 or arm64');
  if (!['amd64', 'arm64'].includes(c.workerArchitecture)) throw new Error('config: workerArchitecture is amd64 or arm64');
  if (!Number.isInteger(c.maxJobs) || c.maxJobs < 1) throw new Error('config: maxJobs must be a positive integer');
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
