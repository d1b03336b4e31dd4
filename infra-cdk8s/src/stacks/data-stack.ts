// JobsData: what holds state and outlives compute: each lane's job queues (normal and high
// priority; a lane is a pool or a command kind) and each pool's dead-letter queue, the job table,
// the schedule group with the role EventBridge Scheduler uses to send jobs, and the image
// repositories (the worker's, and those of the command kinds' images built here).
import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_POOL, JobsConfig, QUEUE, TABLE, pipelineRoles } from '../config';
import { SQS_MANAGED_SSE, suppress } from './checkov';

/** One lane's queues (a command kind's lane dead-letters to its pool's DLQ). */
export interface PoolQueues {
  readonly normal: sqs.Queue;
  readonly high: sqs.Queue;
  readonly dlq: sqs.Queue;
}

/** A lane's part of a construct id: none for the default pool, whose ids are the first
 * release's (CloudFormation keeps its queues), else the name in PascalCase (`etl-v2`: `EtlV2`). */
export function poolId(pool: string): string {
  return pool === DEFAULT_POOL ? '' : pool.split('-').map((w) => (w ? w[0].toUpperCase() + w.slice(1) : '')).join('');
}

/** What pushing an image to the repository takes (the pipeline's image step). */
export const ECR_PUSH_ACTIONS = ['ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:DescribeImages', 'ecr:InitiateLayerUpload', 'ecr:PutImage', 'ecr:UploadLayerPart'];

export class DataStack extends Stack {
  /** Each lane's queues, by lane name (a pool's, a command kind's). */
  readonly pools: ReadonlyMap<string, PoolQueues>;
  /** The default pool's normal queue and DLQ: every other queue is named after them. */
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;
  readonly table: dynamodb.TableV2;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.Role;
  readonly repository: ecr.Repository;
  /** The repositories of command kinds' images built from this repository, by directory. */
  readonly builtRepositories: ReadonlyMap<string, ecr.Repository>;

  constructor(scope: Construct, id: string, cfg: JobsConfig, props: StackProps = {}) {
    super(scope, id, props);
    const removalPolicy = cfg.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    const pools = new Map<string, PoolQueues>();
    for (const pool of cfg.laneList) {
      const id = poolId(pool.name);
      // SSE-SQS (SQS-managed keys): EventBridge Scheduler cannot deliver to KMS_MANAGED queues.
      // A command kind's lane comes after its pool's and shares its DLQ.
      const dlq = pool.command ? pools.get(pool.pool)!.dlq : new sqs.Queue(this, `${id}DeadLetterQueue`, {
        queueName: pool.dlq.name,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(QUEUE.retentionDays),
        removalPolicy,
      });
      const jobQueue = (queueId: string, queueName: string) => new sqs.Queue(this, queueId, {
        queueName,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        // Matches the worker's VISIBILITY_TIMEOUT_SECS; the worker heartbeats to extend it.
        visibilityTimeout: Duration.seconds(QUEUE.visibilityTimeoutSecs),
        retentionPeriod: Duration.days(QUEUE.retentionDays),
        // Safety net only: the worker counts attempts in DynamoDB and dead-letters poison messages
        // itself; a message received this often without being settled is broken.
        deadLetterQueue: { queue: dlq, maxReceiveCount: QUEUE.maxReceiveCount },
        removalPolicy,
      });
      const queues = {
        normal: jobQueue(`${id}JobQueue`, pool.queues.normal.name),
        high: jobQueue(`${id}JobQueueHigh`, pool.queues.high.name),
        dlq,
      };
      for (const q of pool.command ? [queues.normal, queues.high] : [queues.normal, queues.high, dlq]) suppress(q, { CKV_AWS_27: SQS_MANAGED_SSE });
      pools.set(pool.name, queues);
    }
    this.pools = pools;
    this.queue = pools.get(DEFAULT_POOL)!.normal;
    this.dlq = pools.get(DEFAULT_POOL)!.dlq;

    this.table = new dynamodb.TableV2(this, 'JobTable', {
      tableName: cfg.tableName,
      partitionKey: { name: TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE.ttlAttribute,
      // Jobs that have not ended, by due time: the reconciler queries it (keys only; sparse, so it
      // holds only open jobs; sharded, so writes spread over partitions).
      globalSecondaryIndexes: [{
        indexName: TABLE.dueIndex.name,
        partitionKey: { name: TABLE.dueIndex.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: TABLE.dueIndex.sortKey, type: dynamodb.AttributeType.NUMBER },
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      },
      // GET /jobs: one keys-only index per filter, newest first (a page is read back with one
      // BatchGetItem, so a listing costs what its page holds, never a Scan).
      ...TABLE.listIndexes.map((index) => ({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: TABLE.listSortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      })),
      // Tenants' admission (docs/tenants.md): waiting jobs in admission order, slot holders and
      // tenant items; sparse and keys only.
      {
        indexName: TABLE.tenancyIndex.name,
        partitionKey: { name: TABLE.tenancyIndex.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: TABLE.tenancyIndex.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: [...TABLE.tenancyIndex.projected],
      }],
      deletionProtection: cfg.retainData,
      removalPolicy,
    });

    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      scheduleGroupName: cfg.scheduleGroup,
      removalPolicy,
    });
    // The role schedules run as: it may only send messages to the job queues (a schedule fires
    // into its kind's pool's queue of its priority).
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'EventBridge Scheduler: send scheduled jobs to the job queues',
    });
    this.schedulerRole.addToPolicy(new iam.PolicyStatement({
      actions: ['sqs:SendMessage'],
      resources: [...pools.values()].flatMap((q) => [q.normal.queueArn, q.high.queueArn]),
    }));

    this.repository = new ecr.Repository(this, 'WorkerImages', {
      repositoryName: cfg.ecrRepositoryName,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.AES_256,
      lifecycleRules: [{ description: 'keep the last 50 images', maxImageCount: 50 }],
      removalPolicy,
    });
    this.builtRepositories = new Map([...cfg.builtImages].map(([dir, built]) => [dir, new ecr.Repository(this, `${poolId(dir.split('/').pop()!)}Images`, {
      repositoryName: built.repositoryName,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.AES_256,
      lifecycleRules: [{ description: 'keep the last 50 images', maxImageCount: 50 }],
      removalPolicy,
    })]));
    // A pipeline in another account pushes each commit's images here (its push step's role only).
    const pipelineAccount = cfg.pipeline?.account;
    for (const repository of [this.repository, ...this.builtRepositories.values()]) {
      if (pipelineAccount && pipelineAccount !== cfg.account) {
        repository.addToResourcePolicy(new iam.PolicyStatement({
          sid: 'PipelinePush',
          principals: [new iam.AccountPrincipal(pipelineAccount)],
          actions: ECR_PUSH_ACTIONS,
          conditions: { ArnLike: { 'aws:PrincipalArn': pipelineRoles(pipelineAccount) } },
        }));
      }
      suppress(repository, {
        CKV_AWS_136: 'Images are encrypted at rest with AES-256 (ECR default); they contain no secrets, so a CMK adds cost without benefit.',
      });
    }
  }
}
