// keda/: the jobs namespace, KEDA's TriggerAuthentication, and per lane (each pool, each command
// kind) a ServiceAccount and a ScaledJob (one trigger per priority queue, summed), plus the
// reconciler's CronJob. A command kind's pods run its image with the worker put beside the
// command by an init container (Argo's emissary pattern).
import { ApiObject, Chart, ChartProps } from 'cdk8s';
import { k8s } from 'cdk8s-plus-32';
import { Construct } from 'constructs';
import {
  ScaledJob,
  ScaledJobSpecJobTargetRefTemplateSpecContainersResourcesLimits as Limits,
  ScaledJobSpecJobTargetRefTemplateSpecContainersResourcesRequests as Requests,
  ScaledJobSpecScalingStrategyMultipleScalersCalculation,
  ScaledJobSpecScalingStrategyStrategy,
} from '../../imports/keda-scaledjob-keda.sh';
import {
  TriggerAuthentication,
  TriggerAuthenticationSpecPodIdentityIdentityOwner,
  TriggerAuthenticationSpecPodIdentityProvider,
} from '../../imports/keda-triggerauthentication-keda.sh';
import { JobsConfig, Lane, QUEUE, RECONCILER, WORKER } from '../config';

/** A drain pool's KEDA target: one pod per this many waiting jobs (up to maxReplicas). */
export const DRAIN_JOBS_PER_POD = 10;
/** Where a command kind's pod gets the worker: an emptyDir the init container copies it into. */
export const WORKER_BIN_DIR = '/jobs/bin';
/** The "restricted" Pod Security Standard, for every pod and container of keda/. */
const POD_SECURITY = { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } };
const CONTAINER_SECURITY = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};
export const RECONCILER_NAME = 'jobs-reconciler';
export const TRIGGER_AUTH_NAME = 'keda-aws-sqs';

export class JobsChart extends Chart {
  /** Each object with the file it is written to (keda/<file>.yaml). */
  readonly files: Array<[string, ApiObject]>;

  constructor(scope: Construct, id: string, cfg: JobsConfig, props: ChartProps = {}) {
    super(scope, id, { ...props, disableResourceNameHashes: true });
    const labels = { 'app.kubernetes.io/name': 'data-processor', 'app.kubernetes.io/part-of': cfg.appName };

    const namespace = new k8s.KubeNamespace(this, 'namespace', {
      metadata: {
        name: cfg.namespace,
        labels: {
          ...labels,
          // Job pods must satisfy the "restricted" Pod Security Standard.
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    });


    // KEDA's operator reads the queue depth with its own Pod Identity (sqs:GetQueueAttributes only).
    const auth = new TriggerAuthentication(this, 'trigger-auth', {
      metadata: { name: TRIGGER_AUTH_NAME, namespace: cfg.namespace, labels },
      spec: {
        podIdentity: {
          provider: TriggerAuthenticationSpecPodIdentityProvider.AWS,
          identityOwner: TriggerAuthenticationSpecPodIdentityIdentityOwner.KEDA,
        },
      },
    });

    const pools = cfg.laneList.flatMap((lane) => this.lane(cfg, lane, labels));
    // The reconciler: every minute, a pod that passes every 10 s for 50 s (one at a time). It
    // re-sends the messages of overdue jobs and drains the dead-letter queue, so every accepted
    // job ends even when its message was lost. It runs on the always-on system nodes: on the spot
    // pool it would keep a node from ever being consolidated away.
    const reconcilerAccount = new k8s.KubeServiceAccount(this, 'reconciler-service-account', {
      metadata: { name: cfg.reconcilerServiceAccount, namespace: cfg.namespace, labels: reconcilerLabels(cfg) },
      automountServiceAccountToken: false,
    });
    const reconciler = new k8s.KubeCronJob(this, 'reconciler', {
      metadata: {
        name: RECONCILER_NAME,
        namespace: cfg.namespace,
        labels: reconcilerLabels(cfg),
        annotations: {
          'checkov.io/skip1': 'CKV_K8S_43=ECR tags are immutable (JobsData): the tag pins the image as a digest would',
          'checkov.io/skip2': 'CKV_K8S_15=with immutable tags IfNotPresent never runs a stale image, and spares a pull per minute',
        },
      },
      spec: {
        schedule: RECONCILER.schedule,
        timeZone: 'Etc/UTC',
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 30,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 5,
        jobTemplate: {
          spec: {
            backoffLimit: 0,
            activeDeadlineSeconds: RECONCILER.activeDeadlineSecs,
            template: {
              metadata: { labels: reconcilerLabels(cfg) },
              spec: {
                serviceAccountName: cfg.reconcilerServiceAccount,
                automountServiceAccountToken: false,
                restartPolicy: 'Never',
                terminationGracePeriodSeconds: 30,
                nodeSelector: { 'kubernetes.io/arch': cfg.workerArchitecture },
                securityContext: POD_SECURITY,
                containers: [
                  {
                    name: 'reconciler',
                    image: cfg.image,
                    imagePullPolicy: 'IfNotPresent',
                    args: ['reconcile', '--every', String(RECONCILER.everySecs), '--for', String(RECONCILER.forSecs)],
                    env: [
                      { name: 'AWS_REGION', value: cfg.region },
                      { name: 'QUEUE_URL', value: cfg.queueUrl },
                      { name: 'DLQ_URL', value: cfg.dlqUrl },
                      { name: 'TABLE_NAME', value: cfg.tableName },
                      { name: 'LOG_FORMAT', value: 'json' },
                      { name: 'RUST_LOG', value: 'info' },
                    ],
                    resources: {
                      requests: { cpu: k8s.Quantity.fromString('50m'), memory: k8s.Quantity.fromString('32Mi') },
                      limits: { cpu: k8s.Quantity.fromString('250m'), memory: k8s.Quantity.fromString('128Mi') },
                    },
                    securityContext: CONTAINER_SECURITY,
                  },
                ],
              },
            },
          },
        },
      },
    });
    this.files = [
      ['namespace', namespace],
      ['triggerauthentication', auth],
      ...pools,
      ['reconciler-serviceaccount', reconcilerAccount],
      ['cronjob', reconciler],
    ];
  }

  /** A lane's ServiceAccount and ScaledJob: its queues, its pool's shape, deadlines, capacity and
   * execution; a command kind's image with the worker beside it. */
  private lane(cfg: JobsConfig, pool: Lane, appLabels: Record<string, string>): Array<[string, ApiObject]> {
    const labels = {
      ...appLabels,
      [`${cfg.appName}/pool`]: pool.pool,
      ...(pool.command ? { [`${cfg.appName}/kind`]: pool.command.name } : {}),
    };
    // Credentials come from an EKS Pod Identity association (JobsCluster stack) of this account,
    // one role per pool: no annotation and no static keys. The Pod Identity webhook mounts its own
    // projected token, so the Kubernetes API token is not mounted.
    const serviceAccount = new k8s.KubeServiceAccount(this, `service-account-${pool.name}`, {
      metadata: { name: pool.serviceAccount, namespace: cfg.namespace, labels },
      automountServiceAccountToken: false,
    });
    const drain = pool.execution.mode === 'drain' ? pool.execution : undefined;
    const trigger = (url: string) => ({
      type: 'aws-sqs-queue',
      authenticationRef: { name: TRIGGER_AUTH_NAME },
      metadata: {
        queueURL: url,
        awsRegion: cfg.region,
        queueLength: String(drain ? DRAIN_JOBS_PER_POD : 1),
        activationQueueLength: '0',
        // Messages being worked on (or waiting out a retry delay) already have a Job.
        scaleOnInFlight: 'false',
        scaleOnDelayed: 'false',
      },
    });
    const scaledJob = new ScaledJob(this, `scaled-job-${pool.name}`, {
      metadata: { name: pool.scaledJobName, namespace: cfg.namespace, labels },
      spec: {
        pollingInterval: pool.pollingIntervalSecs,
        minReplicaCount: 0,
        maxReplicaCount: pool.maxReplicas,
        successfulJobsHistoryLimit: 10,
        failedJobsHistoryLimit: 20,
        scalingStrategy: {
          // accurate: one Job per visible message (per DRAIN_JOBS_PER_POD for a drain pool), minus
          // Jobs not yet running. pendingPodConditions (KEDA >= 2.19) counts a Job as pending
          // until its pod is scheduled and Ready, so slow spot nodes do not cause duplicate Jobs.
          strategy: ScaledJobSpecScalingStrategyStrategy.ACCURATE,
          pendingPodConditions: ['PodScheduled', 'Ready'],
          // One trigger per priority queue: a high job adds a Job as a normal one does, and the
          // worker takes from the high queue first.
          multipleScalersCalculation: ScaledJobSpecScalingStrategyMultipleScalersCalculation.SUM,
        },
        triggers: [trigger(pool.queues.high.url), trigger(pool.queues.normal.url)],
        jobTargetRef: {
          // SQS owns retries (visibility timeout + attempt counter in DynamoDB): never re-run a pod.
          backoffLimit: 0,
          // The time limit plus the start and stop margins (and a drain's bound): a pod stopped by
          // it is an interruption, never a failed job.
          activeDeadlineSeconds: pool.activeDeadlineSecs,
          template: {
            metadata: {
              labels,
              annotations: { 'karpenter.sh/do-not-disrupt': 'true' },
            },
            spec: {
              serviceAccountName: pool.serviceAccount,
              automountServiceAccountToken: false,
              restartPolicy: 'Never',
              terminationGracePeriodSeconds: WORKER.terminationGracePeriodSecs,
              nodeSelector: {
                [cfg.nodeLabelKey]: cfg.nodeLabelValue,
                'kubernetes.io/arch': cfg.workerArchitecture,
                'karpenter.sh/capacity-type': pool.capacity,
              },
              tolerations: [{ key: cfg.nodeLabelKey, operator: 'Equal', value: cfg.nodeLabelValue, effect: 'NoSchedule' }],
              securityContext: POD_SECURITY,
              ...(pool.command
                ? {
                    // The worker (a static binary) copies itself into the shared emptyDir; the
                    // kind's image needs nothing installed. /tmp holds each attempt's payload and
                    // result files (the root filesystem stays read-only).
                    initContainers: [
                      {
                        name: 'worker',
                        image: cfg.image,
                        imagePullPolicy: 'IfNotPresent',
                        args: ['install', `${WORKER_BIN_DIR}/data-processor`],
                        volumeMounts: [{ name: 'worker', mountPath: WORKER_BIN_DIR }],
                        resources: {
                          requests: { cpu: Requests.fromString('50m'), memory: Requests.fromString('16Mi') },
                          limits: { cpu: Limits.fromString('250m'), memory: Limits.fromString('64Mi') },
                        },
                        securityContext: CONTAINER_SECURITY,
                      },
                    ],
                    volumes: [
                      { name: 'worker', emptyDir: { sizeLimit: Limits.fromString('64Mi') } },
                      { name: 'scratch', emptyDir: { sizeLimit: Limits.fromString(pool.ephemeralStorage) } },
                    ],
                  }
                : {}),
              containers: [
                {
                  name: pool.command ? 'job' : 'data-processor',
                  image: pool.image,
                  imagePullPolicy: 'IfNotPresent',
                  ...(pool.command
                    ? {
                        command: [`${WORKER_BIN_DIR}/data-processor`],
                        volumeMounts: [
                          { name: 'worker', mountPath: WORKER_BIN_DIR, readOnly: true },
                          { name: 'scratch', mountPath: '/tmp' },
                        ],
                      }
                    : {}),
                  env: [
                    { name: 'AWS_REGION', value: cfg.region },
                    { name: 'POOL', value: pool.pool },
                    ...(pool.command ? [{ name: 'KIND', value: pool.command.name }, { name: 'TMPDIR', value: '/tmp' }] : []),
                    { name: 'QUEUE_URL', value: pool.queues.normal.url },
                    { name: 'HIGH_QUEUE_URL', value: pool.queues.high.url },
                    { name: 'DLQ_URL', value: pool.dlq.url },
                    { name: 'TABLE_NAME', value: cfg.tableName },
                    { name: 'MAX_ATTEMPTS', value: String(WORKER.maxAttempts) },
                    { name: 'ATTEMPT_TIMEOUT_SECS', value: String(pool.attemptTimeoutSecs) },
                    { name: 'VISIBILITY_TIMEOUT_SECS', value: String(QUEUE.visibilityTimeoutSecs) },
                    ...(drain
                      ? [
                          { name: 'DRAIN', value: 'true' },
                          { name: 'DRAIN_MAX_JOBS', value: String(drain.maxJobs) },
                          { name: 'DRAIN_MAX_SECS', value: String(drain.maxMinutes * 60) },
                        ]
                      : []),
                    { name: 'LOG_FORMAT', value: 'json' },
                    { name: 'RUST_LOG', value: 'info' },
                    // Shown with each attempt: Fluent Bit ships the pod's logs there (a stream per pod).
                    { name: 'LOG_LOCATION', value: cfg.jobLogGroupName },
                  ],
                  resources: {
                    requests: {
                      cpu: Requests.fromString(pool.cpu.request),
                      memory: Requests.fromString(pool.memory.request),
                      'ephemeral-storage': Requests.fromString(pool.ephemeralStorage),
                    },
                    limits: {
                      cpu: Limits.fromString(pool.cpu.limit),
                      memory: Limits.fromString(pool.memory.limit),
                      'ephemeral-storage': Limits.fromString(pool.ephemeralStorage),
                    },
                  },
                  securityContext: CONTAINER_SECURITY,
                },
              ],
            },
          },
        },
      },
    });
    const suffix = pool.file.replace(/^scaledjob/, '');
    return [[`serviceaccount${suffix}`, serviceAccount], [pool.file, scaledJob]];
  }
}

function reconcilerLabels(cfg: JobsConfig): Record<string, string> {
  return { 'app.kubernetes.io/name': RECONCILER_NAME, 'app.kubernetes.io/part-of': cfg.appName };
}
