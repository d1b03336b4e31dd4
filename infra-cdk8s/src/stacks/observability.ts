// JobsObservability: the jobs' logs and metrics in CloudWatch, and what watches them.
// Fluent Bit (a DaemonSet of the pinned aws-for-fluent-bit image, configured here) ships the
// `jobs` namespace's container logs to one log group with `log_format json/emf`, so CloudWatch turns
// the worker's Embedded Metric Format lines (data-processor/src/emf.rs) into metrics. A dashboard
// shows them beside the queues; alarms on failed jobs, the dead-letter queue and the oldest waiting
// message notify an SNS topic (and an e-mail address, if the config has one).
import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { DEFAULT_POOL, JobsConfig, METRICS, OTHER_TENANT, VERSIONS } from '../config';
import { LOGS_DEFAULT_ENCRYPTION, suppress } from './checkov';
import { poolId } from './data-stack';
import { podIdentityRole } from './pod-identity';

export interface ObservabilityProps {
  readonly cluster: eks.Cluster;
  /** The Pod Identity agent add-on: the association needs it. */
  readonly podIdentityAgent: eks.Addon;
}

/** Fluent Bit's pipeline: tail the jobs namespace's containers, lift each JSON log line to the
 * record's root (an EMF line's `_aws` must be there), ship as `json/emf`. */
export function fluentBitConfig(cfg: JobsConfig, region: string, logGroupName: string): string {
  return `[SERVICE]
    Flush         5
    Log_Level     info
    Parsers_File  /fluent-bit/parsers/parsers.conf
    HTTP_Server   On
    HTTP_Listen   0.0.0.0
    HTTP_Port     2020
    Health_Check  On

[INPUT]
    Name              tail
    Tag               jobs.*
    Path              /var/log/containers/*_${cfg.namespace}_*.log
    multiline.parser  cri
    DB                /var/fluent-bit/state/jobs.db
    Mem_Buf_Limit     16MB
    Skip_Long_Lines   On
    Refresh_Interval  5

[FILTER]
    Name                kubernetes
    Match               jobs.*
    Kube_Tag_Prefix     jobs.var.log.containers.
    Merge_Log           On
    Keep_Log            Off
    K8S-Logging.Parser  On
    Labels              Off
    Annotations         Off

[OUTPUT]
    Name                cloudwatch_logs
    Match               jobs.*
    region              ${region}
    log_group_name      ${logGroupName}
    log_stream_prefix   pod-
    log_stream_template $kubernetes['pod_name'].$kubernetes['container_name']
    log_format          json/emf
    auto_create_group   false
    retry_limit         5
`;
}

/** The Kubernetes objects of the log shipper: namespace, service account, read-only RBAC for the
 * kubernetes filter, the configuration and the DaemonSet. */
export function fluentBitObjects(cfg: JobsConfig, region: string, logGroupName: string): Record<string, unknown>[] {
  const ns = METRICS.fluentBitNamespace;
  const name = METRICS.fluentBitServiceAccount;
  const labels = { 'app.kubernetes.io/name': 'fluent-bit', 'app.kubernetes.io/part-of': cfg.appName };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns, labels } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels },
      rules: [{ apiGroups: [''], resources: ['namespaces', 'pods'], verbs: ['get', 'list', 'watch'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns, labels },
      data: { 'fluent-bit.conf': fluentBitConfig(cfg, region, logGroupName) },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace: ns, labels },
      spec: {
        selector: { matchLabels: labels },
        updateStrategy: { type: 'RollingUpdate' },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            priorityClassName: 'system-node-critical',
            // Every node, the job nodes' spot taints included.
            tolerations: [{ operator: 'Exists' }],
            containers: [{
              name: 'fluent-bit',
              image: `public.ecr.aws/aws-observability/aws-for-fluent-bit:${VERSIONS.awsForFluentBit}`,
              command: ['/fluent-bit/bin/fluent-bit', '-c', '/fluent-bit/etc/fluent-bit.conf'],
              resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
              // Reads the node's log files (root-owned) and keeps its read positions on the node.
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              livenessProbe: { httpGet: { path: '/api/v1/health', port: 2020 }, initialDelaySeconds: 30, periodSeconds: 30 },
              volumeMounts: [
                { name: 'config', mountPath: '/fluent-bit/etc/fluent-bit.conf', subPath: 'fluent-bit.conf', readOnly: true },
                { name: 'varlog', mountPath: '/var/log', readOnly: true },
                { name: 'state', mountPath: '/var/fluent-bit/state' },
              ],
            }],
            volumes: [
              { name: 'config', configMap: { name } },
              { name: 'varlog', hostPath: { path: '/var/log' } },
              { name: 'state', hostPath: { path: '/var/fluent-bit/state', type: 'DirectoryOrCreate' } },
            ],
          },
        },
      },
    },
  ];
}

export class JobsObservability extends Construct {
  readonly logGroup: logs.LogGroup;
  readonly fluentBitRole: iam.Role;
  readonly alarmTopic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, cfg: JobsConfig, props: ObservabilityProps) {
    super(scope, id);
    const { cluster } = props;
    const stack = Stack.of(this);

    const logGroupName = cfg.jobLogGroupName;
    this.logGroup = new logs.LogGroup(this, 'JobLogs', {
      logGroupName,
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: cfg.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    suppress(this.logGroup, { CKV_AWS_158: LOGS_DEFAULT_ENCRYPTION });

    // ---- Fluent Bit: writes log events to that group, nothing else.
    const groupArn = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: logGroupName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    this.fluentBitRole = podIdentityRole(this, 'FluentBitRole', 'Fluent Bit: the jobs namespace\'s logs to CloudWatch (Pod Identity)', cfg.clusterName);
    this.fluentBitRole.addToPolicy(new iam.PolicyStatement({
      sid: 'ShipJobLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      resources: [`${groupArn}`, `${groupArn}:log-stream:*`],
    }));
    const shipper = cluster.addManifest('FluentBit', ...fluentBitObjects(cfg, stack.region, logGroupName));
    const association = new eks.CfnPodIdentityAssociation(this, 'FluentBitPodIdentity', {
      clusterName: cluster.clusterName,
      namespace: METRICS.fluentBitNamespace,
      serviceAccount: METRICS.fluentBitServiceAccount,
      roleArn: this.fluentBitRole.roleArn,
    });
    association.node.addDependency(props.podIdentityAgent);
    // Its pods get credentials from the start.
    shipper.node.addDependency(association);

    // ---- Alarms -> SNS (encrypted with a key CloudWatch may use).
    const key = new kms.Key(this, 'AlarmTopicKey', { enableKeyRotation: true, description: `${cfg.appName} alarm notifications` });
    key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
    }));
    this.alarmTopic = new sns.Topic(this, 'Alarms', { displayName: `${cfg.appName} alarms`, masterKey: key, enforceSSL: true });
    if (cfg.alarmEmail) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(cfg.alarmEmail));

    const ns = METRICS.namespace;
    // Labels are for the graphs: an alarm on a labelled metric becomes a metric-math alarm.
    const jobs = (outcome: string, label?: string) => new cloudwatch.Metric({
      namespace: ns, metricName: 'Jobs', dimensionsMap: { Outcome: outcome }, statistic: 'Sum', period: Duration.minutes(5), label,
    });
    const queueMetric = (name: string, queueName: string, label?: string) => new cloudwatch.Metric({
      namespace: 'AWS/SQS', metricName: name, dimensionsMap: { QueueName: queueName }, statistic: 'Maximum', period: Duration.minutes(1), label,
    });
    const byKind = (metric: string, stat: string) => new cloudwatch.MathExpression({
      expression: `SEARCH('{${ns},Kind} MetricName="${metric}"', '${stat}', 300)`,
      label: '',
      period: Duration.minutes(5),
    });
    // Per tenant: the tenants config.json names for metrics, and (other) (docs/tenants.md).
    const byTenant = (metric: string, dims: string, stat: string, filter = '') => new cloudwatch.MathExpression({
      expression: `SEARCH('{${ns},${dims}} MetricName="${metric}"${filter}', '${stat}', 300)`,
      label: '',
      period: Duration.minutes(5),
    });

    const failed = new cloudwatch.Alarm(this, 'FailedJobs', {
      alarmDescription: 'Jobs ended FAILED in the last 5 minutes (every attempt failed, the message was rejected or dead-lettered too often, or no worker of the lane started them within its start deadline). GET /jobs?status=FAILED lists them.',
      metric: jobs('FAILED'),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // Per lane (the default pool's alarms keep the first release's ids): a pool's dead-letter
    // queue (a command kind's lane shares its pool's), and the oldest message of either queue.
    const poolAlarms = cfg.laneList.flatMap((pool) => {
      const id = poolId(pool.name);
      const of = pool.name === DEFAULT_POOL ? '' : pool.command ? ` of command kind ${pool.name}` : ` of pool ${pool.name}`;
      const deadLetters = pool.command ? [] : [new cloudwatch.Alarm(this, `${id}DeadLetterQueue`, {
        alarmDescription: `Messages wait on the dead-letter queue${of}. The reconciler brings a job's message back or ends the job FAILED; messages that name no job stay for a person (docs/troubleshooting.md).`,
        metric: queueMetric('ApproximateNumberOfMessagesVisible', pool.dlq.name),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 15,
        datapointsToAlarm: 15,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      })];
      const waiting = new cloudwatch.Alarm(this, `${id}OldestMessage`, {
        alarmDescription: `A message${of} has waited over ${METRICS.oldestMessageAlarmMinutes} minutes: no Jobs start (KEDA, Karpenter, the image) or the backlog outgrows the lane's maxReplicas.`,
        metric: new cloudwatch.MathExpression({
          expression: 'MAX([normal, high])',
          usingMetrics: {
            normal: queueMetric('ApproximateAgeOfOldestMessage', pool.queues.normal.name),
            high: queueMetric('ApproximateAgeOfOldestMessage', pool.queues.high.name),
          },
          period: Duration.minutes(1),
        }),
        threshold: METRICS.oldestMessageAlarmMinutes * 60,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      return [...deadLetters, waiting];
    });
    this.alarms = [failed, ...poolAlarms];
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
      alarm.addOkAction(new actions.SnsAction(this.alarmTopic));
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: cfg.appName,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Jobs ended, per 5 minutes', width: 12,
            left: ['SUCCEEDED', 'FAILED', 'CANCELLED'].map((o) => jobs(o, o)), stacked: true,
          }),
          new cloudwatch.GraphWidget({
            title: 'Queues per lane (pool or command kind) and priority: waiting, running, dead letters; oldest message (right, s)', width: 12,
            left: cfg.laneList.flatMap((pool) => [
              ...(['high', 'normal'] as const).flatMap((p) => [
                queueMetric('ApproximateNumberOfMessagesVisible', pool.queues[p].name, `${pool.name} ${p} waiting`),
                queueMetric('ApproximateNumberOfMessagesNotVisible', pool.queues[p].name, `${pool.name} ${p} running`),
              ]),
              ...(pool.command ? [] : [queueMetric('ApproximateNumberOfMessagesVisible', pool.dlq.name, `${pool.name} dead letters`)]),
            ]),
            right: cfg.laneList.flatMap((pool) => (['high', 'normal'] as const).map((p) =>
              queueMetric('ApproximateAgeOfOldestMessage', pool.queues[p].name, `${pool.name} ${p} oldest`))),
          }),
        ],
        [
          new cloudwatch.GraphWidget({ title: 'Attempt duration p99 by kind (ms)', width: 8, left: [byKind('AttemptDuration', 'p99')] }),
          new cloudwatch.GraphWidget({ title: 'Queued before start p99 by kind (ms)', width: 8, left: [byKind('QueuedTime', 'p99')] }),
          new cloudwatch.GraphWidget({
            title: 'Attempts per job', width: 8,
            left: ['SUCCEEDED', 'FAILED'].map((o) => new cloudwatch.Metric({
              namespace: ns, metricName: 'AttemptsPerJob', dimensionsMap: { Outcome: o }, statistic: 'Average', period: Duration.minutes(5), label: o,
            })),
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: `Queued before start p99 by tenant (ms): ${[...cfg.metricTenants, OTHER_TENANT].join(', ')}`, width: 12,
            left: [byTenant('QueuedTime', 'Tenant', 'p99')],
          }),
          new cloudwatch.GraphWidget({
            title: 'Jobs failed per 5 minutes, by tenant', width: 12,
            left: [byTenant('Jobs', 'Tenant,Outcome', 'Sum', ' Outcome="FAILED"')],
          }),
        ],
      ],
    });
  }
}
