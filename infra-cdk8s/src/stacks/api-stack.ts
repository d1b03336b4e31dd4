// JobsApi: the Rust Lambda (api-lambda, provided.al2023) behind an API Gateway HTTP API with IAM
// authorization on every route, stage throttling and JSON access logs.
import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { JobsConfig, TABLE, deployCheckRoleName, pipelineRoles } from '../config';
import { LOGS_DEFAULT_ENCRYPTION, suppress } from './checkov';
import { DataStack } from './data-stack';

/** The API's routes (api-lambda/src/app.rs). */
export const ROUTES: ReadonlyArray<[apigwv2.HttpMethod, string]> = [
  [apigwv2.HttpMethod.POST, '/jobs'],
  [apigwv2.HttpMethod.GET, '/jobs'],
  [apigwv2.HttpMethod.GET, '/jobs/stats'],
  [apigwv2.HttpMethod.GET, '/jobs/overview'],
  [apigwv2.HttpMethod.GET, '/jobs/throughput'],
  [apigwv2.HttpMethod.GET, '/jobs/kinds'],
  [apigwv2.HttpMethod.GET, '/jobs/pools'],
  [apigwv2.HttpMethod.GET, '/jobs/{id}'],
  [apigwv2.HttpMethod.POST, '/jobs/{id}/cancel'],
  [apigwv2.HttpMethod.POST, '/jobs/{id}/retry'],
  [apigwv2.HttpMethod.GET, '/jobs/{id}/runs/{run}/log'],
  [apigwv2.HttpMethod.POST, '/jobs/schedule'],
  [apigwv2.HttpMethod.POST, '/jobs/schedules'],
  [apigwv2.HttpMethod.GET, '/jobs/schedules'],
  [apigwv2.HttpMethod.GET, '/jobs/schedules/{name}'],
  [apigwv2.HttpMethod.PATCH, '/jobs/schedules/{name}'],
  [apigwv2.HttpMethod.DELETE, '/jobs/schedules/{name}'],
  [apigwv2.HttpMethod.GET, '/tenants'],
  [apigwv2.HttpMethod.GET, '/tenants/{tenant}'],
  [apigwv2.HttpMethod.PUT, '/tenants/{tenant}'],
  [apigwv2.HttpMethod.DELETE, '/tenants/{tenant}'],
  [apigwv2.HttpMethod.GET, '/openapi.json'],
];

export interface ApiStackProps extends StackProps {
  readonly data: DataStack;
  /** Path of the zip made by `make package` (bootstrap at its root). */
  readonly lambdaZip: string;
}

export class ApiStack extends Stack {
  readonly fn: lambda.Function;
  readonly httpApi: apigwv2.HttpApi;
  readonly urlOutput: CfnOutput;

  constructor(scope: Construct, id: string, cfg: JobsConfig, props: ApiStackProps) {
    super(scope, id, props);
    const { data } = props;

    const fnLogs = new logs.LogGroup(this, 'FunctionLogs', { retention: logs.RetentionDays.ONE_MONTH });
    this.fn = new lambda.Function(this, 'Api', {
      description: 'Job API: enqueue jobs, read stats, manage schedules',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: cfg.lambdaArchitecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(props.lambdaZip),
      memorySize: 256,
      timeout: Duration.seconds(15),
      logGroup: fnLogs,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        // The default pool's queue: every pool's queues (and DLQs) are named after it.
        QUEUE_URL: data.queue.queueUrl,
        QUEUE_ARN: data.queue.queueArn,
        TABLE_NAME: data.table.tableName,
        SCHEDULE_GROUP: cfg.scheduleGroup,
        SCHEDULER_ROLE_ARN: data.schedulerRole.roleArn,
        LOG_FORMAT: 'json',
        RUST_LOG: 'info',
        // The release this code belongs to: the workers' image tag (the commit id in the pipeline).
        RELEASE: cfg.imageTag,
      },
    });

    suppress(this.fn, {
      CKV_AWS_116: 'Invoked synchronously by API Gateway only; a Lambda DLQ applies to asynchronous invocations.',
      CKV_AWS_115: 'Bounded by the stage throttle (100 rps, burst 200); reserved concurrency would fail deploys on accounts with the minimum unreserved pool.',
      CKV_AWS_117: 'Calls only public AWS endpoints (SQS, DynamoDB, Scheduler); no VPC resources to reach.',
      CKV_AWS_173: 'Environment holds resource names and ARNs only, no secrets.',
    });
    suppress(fnLogs, { CKV_AWS_158: LOGS_DEFAULT_ENCRYPTION });

    // Least privilege, spelled out (not grant* helpers) so the tests can pin it exactly.
    const role = this.fn.role!;
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'EnqueueAndDepth',
      actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
      resources: [...data.pools.values()].flatMap((q) => [q.high.queueArn, q.normal.queueArn]),
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'DeadLetterDepth',
      actions: ['sqs:GetQueueAttributes'],
      resources: [...data.pools.values()].map((q) => q.dlq.queueArn),
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'JobTable',
      // BatchGetItem: the stats shards in one read.
      actions: ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resources: [data.table.tableArn],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ListIndexes',
      // GET /jobs and a schedule's last run: Query on the keys-only list indexes, never a Scan.
      actions: ['dynamodb:Query'],
      // The tenancy index: GET /tenants and admitting a tenant's waiting jobs.
      resources: [...TABLE.listIndexes.map((index) => index.name), TABLE.tenancyIndex.name]
        .map((name) => `${data.table.tableArn}/index/${name}`),
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'Schedules',
      actions: ['scheduler:CreateSchedule', 'scheduler:GetSchedule', 'scheduler:UpdateSchedule', 'scheduler:DeleteSchedule'],
      resources: [Stack.of(this).formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${cfg.scheduleGroup}/*` })],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ListSchedules',
      actions: ['scheduler:ListSchedules'],
      resources: ['*'], // ListSchedules has no resource-level permissions
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'PassSchedulerRole',
      actions: ['iam:PassRole'],
      resources: [data.schedulerRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    }));

    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.THREE_MONTHS });
    suppress(accessLogs, { CKV_AWS_158: LOGS_DEFAULT_ENCRYPTION });
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      apiName: `${cfg.appName}-api`,
      description: 'Event-driven job workers: job API',
      createDefaultStage: false,
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    // $default: the only stage whose URLs carry no stage prefix (the router matches /jobs...).
    new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: 100, burstLimit: 200 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: apigw.AccessLogFormat.custom(JSON.stringify({
          requestId: '$context.requestId',
          ip: '$context.identity.sourceIp',
          caller: '$context.identity.caller',
          userArn: '$context.identity.userArn',
          requestTime: '$context.requestTime',
          httpMethod: '$context.httpMethod',
          routeKey: '$context.routeKey',
          status: '$context.status',
          responseLength: '$context.responseLength',
          integrationError: '$context.integrationErrorMessage',
          latencyMs: '$context.responseLatency',
        })),
      },
    });
    const integration = new HttpLambdaIntegration('Lambda', this.fn, {
      payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
    });
    for (const [method, path] of ROUTES) {
      this.httpApi.addRoutes({ path, methods: [method], integration });
    }

    this.urlOutput = new CfnOutput(this, 'ApiUrl', { value: this.httpApi.apiEndpoint });
    if (cfg.pipeline) this.addDeployCheckRole(cfg);
    new CfnOutput(this, 'FunctionName', { value: this.fn.functionName });
  }

  /** The pipeline's post-deploy check calls this API as this role: it may submit jobs and use the
   * read routes (GET /jobs/*), nothing else. Only the pipeline's own roles may assume it. */
  private addDeployCheckRole(cfg: JobsConfig): void {
    const pipelineAccount = cfg.pipeline!.account;
    const role = new iam.Role(this, 'DeployCheckRole', {
      roleName: deployCheckRoleName(cfg),
      description: 'The delivery pipeline\'s post-deploy check: submit a noop job, read it and the stats',
      assumedBy: new iam.AccountPrincipal(pipelineAccount).withConditions({
        ArnLike: { 'aws:PrincipalArn': pipelineRoles(pipelineAccount) },
      }),
    });
    const route = (method: string, path: string) => Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.httpApi.apiId,
      resourceName: `$default/${method}${path}`,
    });
    role.addToPolicy(new iam.PolicyStatement({
      sid: 'CheckRoutes',
      actions: ['execute-api:Invoke'],
      resources: [route('POST', '/jobs'), route('GET', '/jobs/*')],
    }));
  }
}
