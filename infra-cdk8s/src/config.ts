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

/** What kind of nodes a pool's pods run on. */
export type Capacity = 'spot' | 'on-demand';
export type Priority = 'high' | 'normal';
/** A request and a limit of one resource, as Kubernetes quantities. */
export interface Resource {
  readonly request: string;
  readonly limit: string;
}
/** One job per pod, or a pod that takes jobs one after another until its queues are empty or a bound. */
export type Execution = { readonly mode: 'one-per-pod' } | { readonly mode: 'drain'; readonly maxJobs: number; readonly maxMinutes: number };

/** A pool as config.json declares it (crates/jobs-core/src/pools reads the same). */
export interface PoolFile {
  readonly description: string;
  readonly capacity: Capacity;
  readonly cpu: Resource;
  readonly memory: Resource;
  readonly ephemeralStorage: string;
  /** The longest one attempt may run. */
  readonly timeLimitMinutes: number;
  /** KEDA's maxReplicaCount. */
  readonly maxReplicas: number;
  readonly pollingIntervalSecs: number;
  readonly execution: Execution;
  /** A job no worker started this long after it became ready, while nothing of its lane runs,
   * ends FAILED (the reconciler); absent: it waits. */
  readonly startDeadlineMinutes?: number;
}

/** One SQS queue's names. */
export interface QueueNames {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
}

/** A pool with everything derived from it: its queues, deadlines and Kubernetes names. */
export interface Pool extends PoolFile {
  readonly name: string;
  /** High priority is received first; both dead-letter to the pool's DLQ. */
  readonly queues: Readonly<Record<Priority, QueueNames>>;
  readonly dlq: QueueNames;
  /** The worker's ATTEMPT_TIMEOUT_SECS: the time limit. */
  readonly attemptTimeoutSecs: number;
  /** The Job's activeDeadlineSeconds: start margin + drain bound + time limit + stop margin. */
  readonly activeDeadlineSecs: number;
  /** The ScaledJob's name (and its pods' name prefix); its file is keda/<file>.yaml. */
  readonly scaledJobName: string;
  readonly file: string;
  /** Its own service account, so its own IAM role (its queues only). */
  readonly serviceAccount: string;
}

/** Where a command kind's image comes from: a reference, or a directory of this repository. */
export type ImageSource = string | { readonly build: string };

/** A command kind as config.json declares it (crates/jobs-core/src/command reads the same and
 * also compiles its schema and checks its example against it). */
export interface CommandKindFile {
  readonly description: string;
  readonly pool?: string;
  readonly image: ImageSource;
  readonly workingDir?: string;
  readonly command: string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly permanentExitCodes?: number[];
  readonly maxAttempts?: number;
  readonly backoffBaseSecs?: number;
  readonly backoffMaxSecs?: number;
  readonly timeoutSecs?: number;
  /** Default: the pool's, else 60 (its image is its own, and may be missing). */
  readonly startDeadlineMinutes?: number;
  readonly schema?: unknown;
  readonly example: unknown;
}

/** Where jobs wait and run: a pool (its Rust kinds), or a command kind (its own queues and
 * ScaledJob running its image, in its pool's shape, time limit and capacity, dead letters to its
 * pool's DLQ). */
export interface Lane extends Pool {
  /** The pool whose shape and limits it has (a pool's own lane: its name). */
  readonly pool: string;
  /** The image its pods run: the worker's, or the command kind's with the worker put beside it. */
  readonly image: string;
  /** A command kind's lane: the kind. */
  readonly command?: CommandKindFile & { readonly name: string };
}

export interface FileConfig {
  readonly appName: string;
  readonly account: string;
  readonly region: string;
  readonly imageTag: string;
  readonly lambdaArchitecture: LambdaArchitecture;
  readonly workerArchitecture: WorkerArchitecture;
  /** Workload classes: each its own queues, ScaledJob, pod shape, time limit and capacity (docs/pools.md). */
  readonly pools: Readonly<Record<string, PoolFile>>;
  /** Job kinds that are a command in a container image, with no Rust code (docs/kinds.md). */
  readonly commandKinds?: Readonly<Record<string, CommandKindFile>>;
  /** Tenants (docs/tenants.md): `metrics` names the tenants whose metrics are their own. */
  readonly tenants?: TenantsFile;
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
  /** Every pool, the default first, the others by name. */
  readonly poolList: Pool[];
  /** Every lane: the pools' (in poolList's order), then each command kind's, by name. */
  readonly laneList: Lane[];
  /** The tenants whose metrics are their own (`tenants.metrics`, checked). */
  readonly metricTenants: readonly string[];
  /** The ECR repositories of the images built from this repository's directories (command kinds'
   * `{"build": dir}`), by directory. */
  readonly builtImages: ReadonlyMap<string, { readonly repositoryName: string; readonly image: string }>;
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
  /** The EC2NodeClass of the job nodes; one NodePool per capacity type uses it ([nodePoolOf]). */
  readonly nodeClassName: string;
  /** Label and taint that reserve the job NodePools for job pods. */
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
    // Whose job it is (tenant, docs/tenants.md): written once per job. A stack update adds one
    // index at a time (DynamoDB's limit), so add a new one per deploy.
    { name: 'by-tenant', partitionKey: 'tenant' },
  ],
  /** Tenants' admission (docs/tenants.md), sparse: waiting jobs in admission order, slot holders,
   * tenant items (crates/jobs-aws/src/resources.rs). Added in the release after by-tenant. */
  tenancyIndex: {
    name: 'tenancy', partitionKey: 'tenancy', sortKey: 'tenancyOrder',
    projected: ['status', 'name', 'maxRunning', 'maxStartsPerMinute', 'weight', 'limitsVersion', 'active', 'startsMinute', 'starts', 'waitingAt', 'updatedAt'],
  },
  listSortKey: 'createdAt',
} as const;
/** Worker policy as deployed (the binary's defaults): 3 attempts. */
export const WORKER = {
  maxAttempts: 3,
  /** SIGTERM: the worker records the interruption and releases the message in milliseconds. */
  terminationGracePeriodSecs: 30,
} as const;
/** The pool every kind that names none runs in; its queue keeps the first release's name. */
export const DEFAULT_POOL = 'default';
/** Between a pool's time limit and its pod's deadline (crates/jobs-core/src/pools/mod.rs, the
 * same numbers): pod pending time, image pull and the 20 s long poll before; the stop grace and
 * recording the outcome after. */
export const POOL_MARGINS = { startSecs: 300, stopSecs: 60 } as const;
/** SQS hides one received message for at most 12 hours. */
export const MAX_TIME_LIMIT_MINUTES = 720;
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
  if (c.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(c.alarmEmail)) throw new Error(`config: alarmEmail is not an e-mail address: ${c.alarmEmail}`);
  const name = c.appName;
  const queueName = `${name}`;
  const dlqName = `${name}-dlq`;
  const sqsBase = `https://sqs.${c.region}.amazonaws.com/${c.account}`;
  const ecrRepositoryName = `${name}/data-processor`;
  const queue = (queue: string): QueueNames => ({ name: queue, url: `${sqsBase}/${queue}`, arn: `arn:aws:sqs:${c.region}:${c.account}:${queue}` });
  const poolList = checkPools(c.pools).map(([poolName, p]): Pool => {
    const base = queueNameOf(name, poolName, 'normal');
    const drainSecs = p.execution.mode === 'drain' ? p.execution.maxMinutes * 60 : 0;
    const isDefault = poolName === DEFAULT_POOL;
    return {
      ...p,
      name: poolName,
      queues: { normal: queue(base), high: queue(queueNameOf(name, poolName, 'high')) },
      dlq: queue(`${base}-dlq`),
      attemptTimeoutSecs: p.timeLimitMinutes * 60,
      activeDeadlineSecs: POOL_MARGINS.startSecs + drainSecs + p.timeLimitMinutes * 60 + POOL_MARGINS.stopSecs,
      // The default pool keeps the first release's names (no Job or role is recreated).
      scaledJobName: isDefault ? 'data-processor' : `data-processor-${poolName}`,
      file: isDefault ? 'scaledjob' : `scaledjob-${poolName}`,
      serviceAccount: isDefault ? 'data-processor' : `data-processor-${poolName}`,
    };
  });
  const registry = `${c.account}.dkr.ecr.${c.region}.amazonaws.com`;
  const builtImages = new Map<string, { repositoryName: string; image: string }>();
  const commands = checkCommandKinds(c.commandKinds, poolList);
  const metricTenants = checkTenants(c.tenants);
  for (const [, k] of commands) {
    if (typeof k.image !== 'string' && !builtImages.has(k.image.build)) {
      const repositoryName = `${name}/${k.image.build.split('/').pop()}`;
      builtImages.set(k.image.build, { repositoryName, image: `${registry}/${repositoryName}:${c.imageTag}` });
    }
  }
  const image = `${registry}/${ecrRepositoryName}:${c.imageTag}`;
  const laneList: Lane[] = [
    ...poolList.map((p): Lane => ({ ...p, pool: p.name, image })),
    ...commands.map(([kindName, k]): Lane => {
      const pool = poolList.find((p) => p.name === (k.pool ?? DEFAULT_POOL))!;
      return {
        ...pool,
        name: kindName,
        pool: pool.name,
        image: typeof k.image === 'string' ? k.image : builtImages.get(k.image.build)!.image,
        command: { ...k, name: kindName },
        queues: { normal: queue(queueNameOf(name, kindName, 'normal')), high: queue(queueNameOf(name, kindName, 'high')) },
        scaledJobName: `data-processor-${kindName}`,
        file: `scaledjob-${kindName}`,
        serviceAccount: `data-processor-${kindName}`,
      };
    }),
  ];
  return {
    ...c,
    poolList,
    laneList,
    metricTenants,
    builtImages,
    availabilityZones: c.availabilityZones ?? ['a', 'b', 'c'].map((z) => `${c.region}${z}`),
    queueName,
    dlqName,
    queueUrl: `${sqsBase}/${queueName}`,
    queueArn: `arn:aws:sqs:${c.region}:${c.account}:${queueName}`,
    dlqUrl: `${sqsBase}/${dlqName}`,
    tableName: name,
    scheduleGroup: name,
    ecrRepositoryName,
    image,
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
    nodeClassName: 'jobs',
    nodeLabelKey: `${name}/pool`,
    nodeLabelValue: 'jobs',
  };
}

/** `<app>[-<pool>][-high]`: every pool's queues are named after the default pool's (jobs-core's
 * `pools::queues::queue_name`). */
export function queueNameOf(app: string, pool: string, priority: Priority): string {
  return `${app}${pool === DEFAULT_POOL ? '' : `-${pool}`}${priority === 'high' ? '-high' : ''}`;
}

const POOL_NAME = /^[a-z][a-z0-9]{0,15}$/;
const QUANTITY = /^\+?(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE]\d+)?$/;
const SUFFIX: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

/** A Kubernetes quantity's value (`250m` is 0.25, `1Gi` is 2^30). */
export function quantity(text: string): number {
  const m = QUANTITY.exec(text);
  if (!m) throw new Error(`${JSON.stringify(text)} is not a Kubernetes quantity (e.g. 250m, 1, 512Mi, 1G)`);
  const suffix = m[3] ?? '';
  const factor = suffix === '' ? 1 : /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SUFFIX[suffix];
  return Number(m[1]) * factor;
}

/** The same checks as jobs-core's `Pools::new`; the default pool first, then by name. */
export function checkPools(pools: Readonly<Record<string, PoolFile>> | undefined): Array<[string, PoolFile]> {
  if (!pools || typeof pools !== 'object' || !(DEFAULT_POOL in pools)) throw new Error(`config: pools must include "${DEFAULT_POOL}"`);
  const entries = Object.entries(pools).sort(([a], [b]) => (a === DEFAULT_POOL ? -1 : b === DEFAULT_POOL ? 1 : a.localeCompare(b)));
  for (const [name, p] of entries) {
    const fail = (reason: string): never => { throw new Error(`config: pool ${name}: ${reason}`); };
    if (!POOL_NAME.test(name) || name === 'high' || name === 'dlq') {
      throw new Error(`config: pool name "${name}" must be 1-16 of a-z and 0-9, starting with a letter, and not \`high\` or \`dlq\``);
    }
    const known = ['description', 'capacity', 'cpu', 'memory', 'ephemeralStorage', 'timeLimitMinutes', 'maxReplicas', 'pollingIntervalSecs', 'execution', 'startDeadlineMinutes'];
    for (const key of Object.keys(p)) if (!known.includes(key)) fail(`unknown field \`${key}\``);
    if (typeof p.description !== 'string' || !p.description.trim()) fail('description must not be empty');
    if (p.capacity !== 'spot' && p.capacity !== 'on-demand') fail('capacity is spot or on-demand');
    for (const what of ['cpu', 'memory'] as const) {
      const r = p[what];
      if (!r || typeof r.request !== 'string' || typeof r.limit !== 'string') fail(`${what}: give a request and a limit`);
      const [request, limit] = [quantity(r.request), quantity(r.limit)];
      if (request <= 0 || request > limit) fail(`${what}: the request must be above 0 and at most the limit (${r.request} > ${r.limit})`);
    }
    quantity(p.ephemeralStorage);
    const whole = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
    if (!whole(p.timeLimitMinutes, 1, MAX_TIME_LIMIT_MINUTES)) fail(`timeLimitMinutes must be 1 to ${MAX_TIME_LIMIT_MINUTES} (SQS hides a message for at most 12 hours)`);
    if (!whole(p.maxReplicas, 1, 1000)) fail('maxReplicas must be 1 to 1000');
    if (!whole(p.pollingIntervalSecs, 1, 300)) fail('pollingIntervalSecs must be 1 to 300');
    const e = p.execution;
    if (!e || (e.mode !== 'one-per-pod' && e.mode !== 'drain')) fail('execution.mode is one-per-pod or drain');
    if (e.mode === 'drain' && (!whole(e.maxJobs, 1, 100000) || !whole(e.maxMinutes, 1, MAX_TIME_LIMIT_MINUTES))) {
      fail(`drain: maxJobs must be 1 to 100000 and maxMinutes 1 to ${MAX_TIME_LIMIT_MINUTES}`);
    }
    const deadline = startDeadlineRefused(p.startDeadlineMinutes);
    if (deadline) fail(deadline);
  }
  return entries;
}

/** jobs-core's `pools::START_DEADLINE_MINUTES`: minutes for a pod to start, at most SQS's 14-day retention. */
export const START_DEADLINE_MINUTES = { min: 10, max: 20160 } as const;

function startDeadlineRefused(minutes: number | undefined): string | undefined {
  const { min, max } = START_DEADLINE_MINUTES;
  if (minutes === undefined || (Number.isInteger(minutes) && minutes >= min && minutes <= max)) return undefined;
  return `startDeadlineMinutes must be ${min} to ${max} (a pod needs minutes to start; SQS keeps a message 14 days)`;
}

const KIND_NAME = /^[a-z](?:[a-z0-9-]{0,22}[a-z0-9])?$/;
const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/** The same checks as jobs-core's `CommandKinds::new` (which also compiles each schema, checks the
 * example against it, and refuses a Rust kind's name); by name. */
/** The `tenants` section (crates/jobs-core/src/tenants checks it the same way). */
export interface TenantsFile {
  readonly '//'?: string;
  /** Tenants whose metrics are their own; every other tenant's count as `(other)`. */
  readonly metrics?: readonly string[];
  /** The limits of a tenant with no settings of its own (crates/jobs-core/src/tenants/limits.rs). */
  readonly defaults?: { readonly maxRunning?: number; readonly maxStartsPerMinute?: number; readonly weight?: number };
}
/** The largest `maxRunning` or `maxStartsPerMinute`, and the largest weight. */
export const MAX_TENANT_LIMIT = 100_000;
export const MAX_TENANT_WEIGHT = 100;
/** A tenant's name: 1-64 of A-Z a-z 0-9 . _ - */
export const TENANT = /^[A-Za-z0-9._-]{1,64}$/;
/** The most tenants `tenants.metrics` may name: the bound on a per-tenant metric's series. */
export const MAX_METRIC_TENANTS = 100;
/** The label of every tenant the config does not name. */
export const OTHER_TENANT = '(other)';

export function checkTenants(tenants: TenantsFile | undefined): string[] {
  const fail = (reason: string): never => { throw new Error(`config: tenants: ${reason}`); };
  for (const key of Object.keys(tenants ?? {})) if (!['//', 'metrics', 'defaults'].includes(key)) fail(`unknown field \`${key}\``);
  const defaults: Record<string, unknown> = tenants?.defaults ?? {};
  for (const [key, v] of Object.entries(defaults)) {
    const [lo, hi] = key === 'weight' ? [1, MAX_TENANT_WEIGHT] : [0, MAX_TENANT_LIMIT];
    if (!['maxRunning', 'maxStartsPerMinute', 'weight'].includes(key)) fail(`defaults: unknown field \`${key}\``);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) fail(`defaults: ${key} must be ${lo}..=${hi} (got ${JSON.stringify(v)})`);
  }
  const named = tenants?.metrics ?? [];
  if (!Array.isArray(named)) fail('metrics must be a list of tenant names');
  if (named.length > MAX_METRIC_TENANTS) fail(`metrics names ${named.length} tenants; at most ${MAX_METRIC_TENANTS}`);
  for (const t of named) if (typeof t !== 'string' || !TENANT.test(t)) fail(`metrics: ${JSON.stringify(t)} is not a tenant (1-64 characters of A-Z a-z 0-9 . _ -)`);
  const twice = named.find((t, i) => named.indexOf(t) !== i);
  if (twice !== undefined) fail(`metrics names "${twice}" twice`);
  return [...named];
}

export function checkCommandKinds(kinds: Readonly<Record<string, CommandKindFile>> | undefined, pools: Pool[]): Array<[string, CommandKindFile]> {
  const entries = Object.entries(kinds ?? {}).sort(([a], [b]) => a.localeCompare(b));
  for (const [name, k] of entries) {
    const fail = (reason: string): never => { throw new Error(`config: command kind "${name}": ${reason}`); };
    if (!KIND_NAME.test(name) || /-(high|dlq)$/.test(name) || ['high', 'dlq'].includes(name)) {
      fail('the name must be 1-24 of a-z, 0-9 and `-`, starting with a letter, not ending in `-`, `-high` or `-dlq`');
    }
    if (pools.some((p) => p.name === name)) fail('a pool has this name (its queues would be the pool\'s)');
    const known = ['description', 'pool', 'image', 'workingDir', 'command', 'env', 'permanentExitCodes', 'maxAttempts', 'backoffBaseSecs', 'backoffMaxSecs', 'timeoutSecs', 'startDeadlineMinutes', 'schema', 'example'];
    for (const key of Object.keys(k)) if (!known.includes(key)) fail(`unknown field \`${key}\``);
    if (typeof k.description !== 'string' || !k.description.trim()) fail('description must not be empty');
    const pool = pools.find((p) => p.name === (k.pool ?? DEFAULT_POOL));
    if (!pool) fail(`pool "${k.pool}" is not declared`);
    if (typeof k.image === 'string') {
      if (!k.image.trim() || /\s/.test(k.image)) fail(`image "${k.image}" is not an image reference`);
    } else if (!k.image || typeof k.image.build !== 'string' || !k.image.build || k.image.build.startsWith('/') || k.image.build.includes('..')) {
      fail('image.build must be a directory inside the repository');
    }
    if (!Array.isArray(k.command) || k.command.length === 0 || k.command.some((a) => typeof a !== 'string' || a === '' || a.includes('\0'))) {
      fail('command must be a program and its arguments, none empty');
    }
    if (k.workingDir !== undefined && (typeof k.workingDir !== 'string' || k.workingDir === '')) fail('workingDir must not be empty');
    for (const env of Object.keys(k.env ?? {})) {
      if (!ENV_NAME.test(env) || env.startsWith('JOB_')) fail(`env "${env}": names are A-Z, 0-9 and \`_\`, and \`JOB_*\` is the job contract's`);
    }
    for (const code of k.permanentExitCodes ?? []) {
      if (!Number.isInteger(code) || code < 1 || code > 255) fail(`permanentExitCodes: ${code} is not an exit code of a failure (1-255)`);
    }
    const whole = (v: number | undefined, lo: number, hi: number) => v === undefined || (Number.isInteger(v) && v >= lo && v <= hi);
    if (!whole(k.maxAttempts, 1, 100)) fail('maxAttempts must be 1 to 100');
    if (!whole(k.timeoutSecs, 1, pool!.timeLimitMinutes * 60)) fail(`timeoutSecs must be 1 to the pool's time limit (${pool!.timeLimitMinutes * 60} s)`);
    const deadline = startDeadlineRefused(k.startDeadlineMinutes);
    if (deadline) fail(deadline);
    if (!whole(k.backoffBaseSecs, 1, Number.MAX_SAFE_INTEGER) || !whole(k.backoffMaxSecs, 1, 43200)) fail('backoffBaseSecs must be above 0, backoffMaxSecs 1 to 43200');
    if (k.example === undefined || k.example === null || typeof k.example !== 'object' || Array.isArray(k.example)) fail('example must be a payload (a JSON object)');
  }
  return entries;
}

/** The NodePool of one capacity type: job pods select it by `karpenter.sh/capacity-type`. */
export function nodePoolOf(capacity: Capacity): string {
  return `jobs-${capacity}`;
}
