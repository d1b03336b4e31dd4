// CDK assertion tests of JobsObservability: the log shipper that makes the worker's EMF lines
// metrics, the alarms and where they go, the dashboard, and that they name what the worker writes.
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildStacks } from '../bin/app';
import { METRICS, VERSIONS } from '../src/config';
import { poolId } from '../src/stacks/data-stack';

const root = join(__dirname, '..', '..', '..');
const zip = join(mkdtempSync(join(tmpdir(), 'obs-test-')), 'api-lambda.zip');
writeFileSync(zip, 'not inspected by these tests');
const built = buildStacks(new App(), zip);
const cluster = Template.fromStack(built.cluster);
const emfSource = readFileSync(join(root, 'data-processor', 'src', 'emf.rs'), 'utf8');

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Principal?: unknown; Sid?: string };
const only = <T>(values: T[], what: string): T => {
  assert.equal(values.length, 1, `one ${what}, found ${values.length}`);
  return values[0];
};
const resources = (type: string) => Object.entries(cluster.findResources(type));
const withConfig = (extra: Record<string, unknown>) => {
  const dir = mkdtempSync(join(tmpdir(), 'obs-config-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(join(__dirname, '..', '..', 'config.json'), 'utf8')), ...extra }));
  return buildStacks(new App({ context: { config: file } }), zip);
};

describe('JobsObservability', () => {
  const logGroupName = built.cfg.jobLogGroupName;

  it('the metrics named are the ones the worker writes, in its namespace', () => {
    assert.match(emfSource, new RegExp(`DEFAULT_NAMESPACE: &str = "${METRICS.namespace}"`));
    for (const name of ['Jobs', 'AttemptsPerJob', 'AttemptDuration', 'QueuedTime']) {
      assert.match(emfSource, new RegExp(`\\("${name}", "(Count|Milliseconds)"\\)`), name);
    }
    assert.match(emfSource, /"Dimensions": \[\["Kind", "Outcome"\], \["Outcome"\], \["Tenant", "Outcome"\]\]/);
    assert.match(emfSource, /"Dimensions": \[\["Tenant"\]\]/);
  });

  it('one log group for the jobs namespace, kept 30 days and with the data', () => {
    const [, group] = only(resources('AWS::Logs::LogGroup').filter(([, r]) => r.Properties.LogGroupName === logGroupName), 'jobs log group');
    assert.equal(group.Properties.RetentionInDays, 30);
    assert.equal(group.DeletionPolicy, 'Retain');
  });

  it('Fluent Bit may only write log events to that group, as its own service account', () => {
    const [roleId, role] = only(resources('AWS::IAM::Role').filter(([id]) => id.startsWith('ObservabilityFluentBitRole')), 'Fluent Bit role');
    for (const s of role.Properties.AssumeRolePolicyDocument.Statement as Statement[]) {
      assert.deepEqual(s.Principal, { Service: 'pods.eks.amazonaws.com' });
    }
    const statements = resources('AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
    const s = only(statements, 'statement');
    assert.deepEqual((s.Action as string[]).slice().sort(), ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents']);
    const text = JSON.stringify(s.Resource);
    assert.ok(text.includes(`log-group:${logGroupName}"`) && text.includes(`log-group:${logGroupName}:log-stream:*`), text);
    const assoc = only(resources('AWS::EKS::PodIdentityAssociation').filter(([, a]) => a.Properties.ServiceAccount === METRICS.fluentBitServiceAccount), 'association');
    assert.deepEqual(assoc[1].Properties.RoleArn, { 'Fn::GetAtt': [roleId, 'Arn'] });
    assert.equal(assoc[1].Properties.Namespace, METRICS.fluentBitNamespace);
  });

  describe('the log shipper', () => {
    type K8s = { kind: string; metadata: { name: string; namespace?: string }; spec?: any; data?: Record<string, string> };
    const [shipperId, shipper] = only(resources('Custom::AWSCDK-EKS-KubernetesResource').filter(([id]) => id.includes('FluentBit')), 'Fluent Bit manifest');
    const objects = JSON.parse(shipper.Properties.Manifest) as K8s[];
    const of = (kind: string) => only(objects.filter((o) => o.kind === kind), kind);

    it('a DaemonSet of the pinned image on every node, under the associated service account', () => {
      const ds = of('DaemonSet');
      const pod = ds.spec.template.spec;
      assert.equal(pod.serviceAccountName, METRICS.fluentBitServiceAccount);
      assert.equal(ds.metadata.namespace, METRICS.fluentBitNamespace);
      assert.equal(pod.containers[0].image, `public.ecr.aws/aws-observability/aws-for-fluent-bit:${VERSIONS.awsForFluentBit}`);
      assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }], 'the spot job nodes too');
      assert.equal(pod.containers[0].securityContext.allowPrivilegeEscalation, false);
      assert.equal(of('ServiceAccount').metadata.name, METRICS.fluentBitServiceAccount);
      const rules = (of('ClusterRole') as unknown as { rules: unknown }).rules;
      assert.deepEqual(rules, [{ apiGroups: [''], resources: ['namespaces', 'pods'], verbs: ['get', 'list', 'watch'] }], 'read-only');
    });

    it('tails the jobs namespace, lifts JSON lines to the root and ships them as json/emf', () => {
      const conf = of('ConfigMap').data!['fluent-bit.conf'];
      const setting = (name: string) => conf.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length).trim());
      assert.deepEqual(setting('Path'), [`/var/log/containers/*_${built.cfg.namespace}_*.log`]);
      assert.deepEqual(setting('Merge_Log'), ['On']);
      assert.deepEqual(setting('Keep_Log'), ['Off']);
      assert.deepEqual(setting('log_format'), ['json/emf']);
      assert.deepEqual(setting('log_group_name'), [logGroupName]);
      assert.deepEqual(setting('region'), [built.cfg.region]);
      assert.deepEqual(setting('auto_create_group'), ['false']);
      assert.deepEqual(setting('Name'), ['tail', 'kubernetes', 'cloudwatch_logs']);
    });

    it('is applied after its Pod Identity association, and also in a GitOps deployment', () => {
      const assocId = only(resources('AWS::EKS::PodIdentityAssociation').filter(([, a]) => a.Properties.ServiceAccount === METRICS.fluentBitServiceAccount), 'association')[0];
      assert.ok((shipper.DependsOn as string[]).includes(assocId), `${shipperId} depends on ${shipper.DependsOn}`);
      const gitops = Template.fromStack(withConfig({ applyManifests: false }).cluster);
      assert.equal(Object.keys(gitops.findResources('Custom::AWSCDK-EKS-KubernetesResource')).filter((id) => id.includes('FluentBit')).length, 1);
    });
  });

  describe('alarms', () => {
    const alarms = Object.fromEntries(resources('AWS::CloudWatch::Alarm').map(([id, a]) => [id.replace(/^Observability/, '').replace(/[0-9A-F]{8}$/, ''), a.Properties]));
    const [topicId] = only(resources('AWS::SNS::Topic'), 'alarm topic');

    it('failed jobs; per pool its dead letters; per lane (pool, command kind) its oldest message; each notifying the topic when it fires and clears', () => {
      const perPool = built.cfg.laneList.flatMap((p) => {
        const id = poolId(p.name);
        return p.command ? [`${id}OldestMessage`] : [`${id}DeadLetterQueue`, `${id}OldestMessage`];
      });
      assert.ok(perPool.includes('ReportOldestMessage'), perPool.join());
      assert.deepEqual(Object.keys(alarms).sort(), ['FailedJobs', ...perPool].sort());
      const failed = alarms.FailedJobs;
      assert.deepEqual(
        [failed.Namespace, failed.MetricName, failed.Dimensions, failed.Statistic, failed.Threshold, failed.ComparisonOperator, failed.TreatMissingData],
        [METRICS.namespace, 'Jobs', [{ Name: 'Outcome', Value: 'FAILED' }], 'Sum', 1, 'GreaterThanOrEqualToThreshold', 'notBreaching'],
      );
      for (const pool of built.cfg.laneList) {
        const id = poolId(pool.name);
        const dlq = alarms[`${id}DeadLetterQueue`];
        if (!pool.command) assert.deepEqual([dlq.Namespace, dlq.MetricName, dlq.Dimensions], ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', [{ Name: 'QueueName', Value: pool.dlq.name }]]);
        // The older of its two queues' oldest messages.
        const oldest = alarms[`${id}OldestMessage`];
        assert.equal(oldest.Threshold, METRICS.oldestMessageAlarmMinutes * 60);
        const queried = JSON.stringify(oldest.Metrics);
        for (const q of [pool.queues.normal.name, pool.queues.high.name]) assert.ok(queried.includes(`"Value":"${q}"`), `${pool.name}: ${q}`);
        assert.ok(queried.includes('ApproximateAgeOfOldestMessage') && queried.includes('MAX([normal, high])'), queried);
      }
      for (const [name, a] of Object.entries(alarms)) {
        assert.deepEqual([a.AlarmActions, a.OKActions], [[{ Ref: topicId }], [{ Ref: topicId }]], name);
        assert.ok(String(a.AlarmDescription).length > 40, `${name} says what to do`);
      }
    });

    it('the topic is encrypted with a rotating key that CloudWatch may use; e-mail only when configured', () => {
      const [, topic] = only(resources('AWS::SNS::Topic'), 'topic');
      const keyId = (topic.Properties.KmsMasterKeyId as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0];
      const key = cluster.findResources('AWS::KMS::Key')[keyId];
      assert.equal(key.Properties.EnableKeyRotation, true);
      const cw = (key.Properties.KeyPolicy.Statement as Statement[]).find((s) => s.Sid === 'CloudWatchAlarmsPublish')!;
      assert.deepEqual(cw.Principal, { Service: 'cloudwatch.amazonaws.com' });
      cluster.resourceCountIs('AWS::SNS::Subscription', 0);
      const mailed = Template.fromStack(withConfig({ alarmEmail: 'ops@example.com' }).cluster);
      mailed.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
      assert.throws(() => withConfig({ alarmEmail: 'not an address' }), /alarmEmail/);
    });
  });

  it('the dashboard shows the jobs by outcome, the queues, durations, queue time and attempts', () => {
    const [, dash] = only(resources('AWS::CloudWatch::Dashboard'), 'dashboard');
    assert.equal(dash.Properties.DashboardName, built.cfg.appName);
    const body = JSON.stringify(dash.Properties.DashboardBody);
    for (const needle of [
      `\\"${METRICS.namespace}\\",\\"Jobs\\",\\"Outcome\\",\\"FAILED\\"`,
      `SEARCH('{${METRICS.namespace},Kind} MetricName=\\\\\\"AttemptDuration\\\\\\"', 'p99', 300)`,
      'QueuedTime',
      'AttemptsPerJob',
      // Per tenant (the named ones and the rest), found by SEARCH over the Tenant dimension.
      `SEARCH('{${METRICS.namespace},Tenant} MetricName=\\\\\\"QueuedTime\\\\\\"', 'p99', 300)`,
      `SEARCH('{${METRICS.namespace},Tenant,Outcome} MetricName=\\\\\\"Jobs\\\\\\" Outcome=\\\\\\"FAILED\\\\\\"', 'Sum', 300)`,
      'by tenant (ms): acme, (other)',
      ...built.cfg.poolList.flatMap((p) => [
        `\\"AWS/SQS\\",\\"ApproximateAgeOfOldestMessage\\",\\"QueueName\\",\\"${p.queues.high.name}\\"`,
        `\\"QueueName\\",\\"${p.dlq.name}\\"`,
      ]),
    ]) {
      assert.ok(body.includes(needle), `${needle} in ${body.slice(0, 400)}…`);
    }
  });
});
