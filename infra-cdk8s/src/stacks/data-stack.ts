// JobsData: what holds state and outlives compute: the job queue + DLQ, the job table, the
// schedule group with the role EventBridge Scheduler uses to send jobs, and the image repository.
import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { JobsConfig, QUEUE, TABLE, pipelineRoles } from '../config';
import { SQS_MANAGED_SSE, suppress } from './checkov';

/** What pushing an image to the repository takes (the pipeline's image step). */
export const ECR_PUSH_ACTIONS = ['ecr:BatchCheckLayerAvailability', 'ecr:CompleteLayerUpload', 'ecr:DescribeImages', 'ecr:InitiateLayerUpload', 'ecr:PutImage', 'ecr:UploadLayerPart'];

export class DataStack extends Stack {
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;
  readonly table: dynamodb.TableV2;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.Role;
  readonly repository: ecr.Repository;

  constructor(scope: Construct, id: string, cfg: JobsConfig, props: StackProps = {}) {
    super(scope, id, props);
    const removalPolicy = cfg.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    // SSE-SQS (SQS-managed keys): EventBridge Scheduler cannot deliver to KMS_MANAGED queues.
    this.dlq = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: cfg.dlqName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(QUEUE.retentionDays),
      removalPolicy,
    });
    this.queue = new sqs.Queue(this, 'JobQueue', {
      queueName: cfg.queueName,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Matches the worker's VISIBILITY_TIMEOUT_SECS; the worker heartbeats to extend it.
      visibilityTimeout: Duration.seconds(QUEUE.visibilityTimeoutSecs),
      retentionPeriod: Duration.days(QUEUE.retentionDays),
      // Safety net only: the worker counts attempts in DynamoDB and dead-letters poison messages
      // itself; a message received this often without being settled is broken.
      deadLetterQueue: { queue: this.dlq, maxReceiveCount: QUEUE.maxReceiveCount },
      removalPolicy,
    });

    suppress(this.dlq, { CKV_AWS_27: SQS_MANAGED_SSE });
    suppress(this.queue, { CKV_AWS_27: SQS_MANAGED_SSE });

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
      }))],
      deletionProtection: cfg.retainData,
      removalPolicy,
    });

    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      scheduleGroupName: cfg.scheduleGroup,
      removalPolicy,
    });
    // The role schedules run as: it may only send messages to the job queue.
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'EventBridge Scheduler: send scheduled jobs to the job queue',
    });
    this.schedulerRole.addToPolicy(new iam.PolicyStatement({
      actions: ['sqs:SendMessage'],
      resources: [this.queue.queueArn],
    }));

    this.repository = new ecr.Repository(this, 'WorkerImages', {
      repositoryName: cfg.ecrRepositoryName,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.AES_256,
      lifecycleRules: [{ description: 'keep the last 50 images', maxImageCount: 50 }],
      removalPolicy,
    });
    // A pipeline in another account pushes each commit's image here (its push step's role only).
    const pipelineAccount = cfg.pipeline?.account;
    if (pipelineAccount && pipelineAccount !== cfg.account) {
      this.repository.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'PipelinePush',
        principals: [new iam.AccountPrincipal(pipelineAccount)],
        actions: ECR_PUSH_ACTIONS,
        conditions: { ArnLike: { 'aws:PrincipalArn': pipelineRoles(pipelineAccount) } },
      }));
    }
    suppress(this.repository, {
      CKV_AWS_136: 'Images are encrypted at rest with AES-256 (ECR default); they contain no secrets, so a CMK adds cost without benefit.',
    });
  }
}
