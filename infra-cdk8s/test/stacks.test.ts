// CDK assertion tests: the properties that matter for correctness and security, pinned exactly.
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { buildStacks } from '../bin/app';
import { poolId } from '../src/stacks/data-stack';
import { QUEUE, TABLE, VERSIONS } from '../src/config';
import { ROUTES } from '../src/stacks/api-stack';

// The assertions read the template, not the code: any file stands in for the Lambda zip here
// (make package builds the real one for `cdk synth`).
const zip = join(mkdtempSync(join(tmpdir(), 'infra-test-')), 'api-lambda.zip');
writeFileSync(zip, 'not inspected by these tests');
const built = buildStacks(new App(), zip);
const data = Template.fromStack(built.data);
const api = Template.fromStack(built.api);
const cluster = Template.fromStack(built.cluster);

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string };
const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]).slice().sort();
/** The logical id of the one resource of `type` whose id starts with `prefix`. */
function logicalId(t: Template, type: string, prefix: string): string {
  const ids = Object.keys(t.findResources(type)).filter((id) => id.startsWith(prefix));
  assert.equal(ids.length, 1, `one ${type} named ${prefix}*: ${ids}`);
  return ids[0];
}
/** Statements of the inline policies attached to the role whose logical id starts with `rolePrefix`. */
function roleStatements(t: Template, rolePrefix: string): Statement[] {
  const role = logicalId(t, 'AWS::IAM::Role', rolePrefix);
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}
const mentions = (value: unknown, id: string) => JSON.stringify(value).includes(id);

/** The one queue named `name`: its logical id. */
function queueId(name: string): string {
  const ids = Object.entries(data.findResources('AWS::SQS::Queue')).filter(([, q]) => q.Properties.QueueName === name).map(([id]) => id);
  assert.equal(ids.length, 1, `one queue ${name}`);
  return ids[0];
}
const jobQueueIds = built.cfg.laneList.flatMap((p) => [queueId(p.queues.normal.name), queueId(p.queues.high.name)]);
const dlqIds = built.cfg.poolList.map((p) => queueId(p.dlq.name));

describe('JobsData', () => {
  it('each lane: two job queues (SSE-SQS, the worker visibility timeout, redrive to its pool\'s DLQ); each pool a DLQ', () => {
    // The default pool's keep the first release's logical ids (CloudFormation keeps the queues).
    assert.match(queueId(built.cfg.queueName), /^JobQueue[0-9A-F]{8}$/);
    assert.match(queueId(built.cfg.dlqName), /^DeadLetterQueue[0-9A-F]{8}$/);
    const queueCount = 2 * built.cfg.laneList.length + built.cfg.poolList.length;
    data.resourceCountIs('AWS::SQS::Queue', queueCount);
    for (const pool of built.cfg.laneList) {
      const dlqId = queueId(pool.dlq.name);
      for (const name of [pool.queues.normal.name, pool.queues.high.name]) {
        const q = data.findResources('AWS::SQS::Queue')[queueId(name)];
        assert.equal(q.Properties.SqsManagedSseEnabled, true);
        assert.equal(q.Properties.KmsMasterKeyId, undefined);
        assert.equal(q.Properties.VisibilityTimeout, QUEUE.visibilityTimeoutSecs);
        assert.equal(q.Properties.MessageRetentionPeriod, QUEUE.retentionDays * 86400);
        assert.equal(q.Properties.RedrivePolicy.maxReceiveCount, QUEUE.maxReceiveCount);
        assert.deepEqual(q.Properties.RedrivePolicy.deadLetterTargetArn, { 'Fn::GetAtt': [dlqId, 'Arn'] }, name);
        assert.equal(q.DeletionPolicy, 'Retain');
      }
      const dlq = data.findResources('AWS::SQS::Queue')[dlqId];
      assert.equal(dlq.Properties.SqsManagedSseEnabled, true);
      assert.equal(dlq.Properties.RedrivePolicy, undefined);
    }
  });

  it('queues refuse non-TLS access', () => {
    data.resourceCountIs('AWS::SQS::QueuePolicy', 2 * built.cfg.laneList.length + built.cfg.poolList.length);
    data.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('table: on-demand, PITR, TTL, the store key, retained', () => {
    data.hasResource('AWS::DynamoDB::GlobalTable', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        GlobalSecondaryIndexes: [{
          IndexName: 'due',
          KeySchema: [{ AttributeName: 'dueShard', KeyType: 'HASH' }, { AttributeName: 'dueAt', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        }, ...[['by-created', 'listAll'], ['by-status', 'status'], ['by-kind', 'kind'], ['by-schedule', 'schedule'], ['by-submitter', 'submittedBy'], ['by-tenant', 'tenant']].map(([name, key]) => ({
          IndexName: name,
          KeySchema: [{ AttributeName: key, KeyType: 'HASH' }, { AttributeName: 'createdAt', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        })), {
          // Tenants' admission (docs/tenants.md): sparse; a job's status and a tenant's limits and
          // usage projected, so the sweep and GET /tenants read no item.
          IndexName: 'tenancy',
          KeySchema: [{ AttributeName: 'tenancy', KeyType: 'HASH' }, { AttributeName: 'tenancyOrder', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...TABLE.tenancyIndex.projected] },
        }],
        Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
      }),
    });
  });

  it('scheduler role: assumed by EventBridge Scheduler, may only send to the job queues', () => {
    const stmts = roleStatements(data, 'SchedulerRole');
    assert.equal(stmts.length, 1);
    assert.deepEqual(actions(stmts[0]), ['sqs:SendMessage']);
    assert.deepEqual(stmts[0].Resource, jobQueueIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })));
    const role = data.findResources('AWS::IAM::Role')[logicalId(data, 'AWS::IAM::Role', 'SchedulerRole')];
    assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal, { Service: 'scheduler.amazonaws.com' });
    data.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: built.cfg.scheduleGroup });
  });

  it('ECR: immutable tags, scan on push; the worker\'s repository and one per command kinds\' image built here', () => {
    const names = [built.cfg.ecrRepositoryName, ...[...built.cfg.builtImages.values()].map((b) => b.repositoryName)];
    assert.deepEqual(names, [built.cfg.ecrRepositoryName, `${built.cfg.appName}/examples`]);
    data.resourceCountIs('AWS::ECR::Repository', names.length);
    for (const name of names) {
      data.hasResourceProperties('AWS::ECR::Repository', {
        RepositoryName: name,
        ImageTagMutability: 'IMMUTABLE',
        ImageScanningConfiguration: { ScanOnPush: true },
      });
    }
  });
});

describe('JobsApi', () => {
  it('Lambda: provided.al2023 bootstrap, wired to the data stack', () => {
    api.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Handler: 'bootstrap',
      Architectures: ['x86_64'],
      Environment: { Variables: Match.objectLike({ SCHEDULE_GROUP: built.cfg.scheduleGroup, QUEUE_URL: Match.anyValue(), QUEUE_ARN: Match.anyValue(), TABLE_NAME: Match.anyValue(), SCHEDULER_ROLE_ARN: Match.anyValue() }) },
    });
  });

  it('Lambda role: exactly enqueue + depth, the table item actions, the group schedules, PassRole of the scheduler role', () => {
    const stmts = roleStatements(api, 'ApiServiceRole').filter((s) => !actions(s).every((a) => a.startsWith('xray:')));
    const bySid = Object.fromEntries(stmts.map((s) => [s.Sid, s]));
    assert.deepEqual(Object.keys(bySid).sort(), ['DeadLetterDepth', 'EnqueueAndDepth', 'JobTable', 'ListIndexes', 'ListSchedules', 'PassSchedulerRole', 'Schedules']);
    assert.deepEqual(actions(bySid.ListIndexes), ['dynamodb:Query']);
    for (const index of ['by-created', 'by-status', 'by-kind', 'by-schedule', 'by-submitter', 'by-tenant', 'tenancy']) assert.ok(mentions(bySid.ListIndexes.Resource, `/index/${index}`), index);
    assert.ok(!mentions(bySid.ListIndexes.Resource, '/index/due'));
    // Every pool's queues: a job goes to its kind's pool.
    assert.deepEqual(actions(bySid.EnqueueAndDepth), ['sqs:GetQueueAttributes', 'sqs:SendMessage']);
    for (const id of jobQueueIds) assert.ok(mentions(bySid.EnqueueAndDepth.Resource, id), id);
    assert.ok(!dlqIds.some((id) => mentions(bySid.EnqueueAndDepth.Resource, id)));
    assert.deepEqual(actions(bySid.DeadLetterDepth), ['sqs:GetQueueAttributes']);
    for (const id of dlqIds) assert.ok(mentions(bySid.DeadLetterDepth.Resource, id), id);
    assert.ok(!jobQueueIds.some((id) => mentions(bySid.DeadLetterDepth.Resource, id)));
    assert.deepEqual(actions(bySid.JobTable), ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    assert.ok(mentions(bySid.JobTable.Resource, 'JobTable'));
    assert.deepEqual(actions(bySid.Schedules), ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule', 'scheduler:UpdateSchedule']);
    assert.ok(mentions(bySid.Schedules.Resource, `:schedule/${built.cfg.scheduleGroup}/*`));
    assert.deepEqual(actions(bySid.PassSchedulerRole), ['iam:PassRole']);
    assert.ok(mentions(bySid.PassSchedulerRole.Resource, 'SchedulerRole'));
    assert.deepEqual(bySid.PassSchedulerRole.Condition, { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
    for (const s of stmts) assert.equal(s.Effect, 'Allow');
  });

  it('HTTP API: every route of the API, each with IAM authorization', () => {
    const routes = Object.values(api.findResources('AWS::ApiGatewayV2::Route')).map((r) => r.Properties);
    assert.deepEqual(routes.map((r) => r.RouteKey).sort(), ROUTES.map(([m, p]) => `${m} ${p}`).sort());
    for (const r of routes) assert.equal(r.AuthorizationType, 'AWS_IAM', r.RouteKey);
  });

  it('$default stage: auto-deploy, throttled, JSON access logs', () => {
    api.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"') },
    });
  });
});

describe('JobsCluster', () => {
  it('worker roles, one per lane (pool, command kind): take/settle/hand back its own job messages, dead-letter to its pool\'s DLQ, three table item actions, the tenancy index; nothing else', () => {
    for (const pool of built.cfg.laneList) {
      const id = poolId(pool.name);
      const stmts = roleStatements(cluster, `${id}WorkerRole`);
      const bySid = Object.fromEntries(stmts.map((s) => [s.Sid, s]));
      // overlap: forbid takes a lock item with the start; the one index a worker reads is the
      // tenancy index (a tenant's next waiting job, after one of its jobs gave its slot back).
      assert.deepEqual(Object.keys(bySid).sort(), ['DeadLetter', 'JobTable', 'TakeJobs', 'Tenancy']);
      assert.deepEqual(actions(bySid.Tenancy), ['dynamodb:Query']);
      assert.ok(mentions(bySid.Tenancy.Resource, '/index/tenancy'));
      assert.ok(!mentions(bySid.Tenancy.Resource, '/index/by-'), 'no list index');
      assert.deepEqual(actions(bySid.TakeJobs), ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage', 'sqs:SendMessage']);
      const own = [pool.queues.high.name, pool.queues.normal.name].map(queueId);
      // Cross-stack references name the data stack's outputs after the queues' logical ids: its
      // own two queues, no other.
      for (const q of own) assert.ok(mentions(bySid.TakeJobs.Resource, q), `${pool.name}: ${q}`);
      assert.equal((bySid.TakeJobs.Resource as unknown[]).length, 2);
      assert.deepEqual(actions(bySid.DeadLetter), ['sqs:SendMessage']);
      assert.ok(mentions(bySid.DeadLetter.Resource, queueId(pool.dlq.name)));
      assert.deepEqual(actions(bySid.JobTable), ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
      assert.ok(mentions(bySid.JobTable.Resource, 'JobTable'));
    }
  });

  it('reconciler role: drain every dead-letter queue, send to (and read the depth of) every job queue, item actions, query the due index', () => {
    const stmts = roleStatements(cluster, 'ReconcilerRole');
    const bySid = Object.fromEntries(stmts.map((s) => [s.Sid, s]));
    assert.deepEqual(Object.keys(bySid).sort(), ['DrainDeadLetters', 'DueIndex', 'JobTable', 'SendJobs']);
    assert.deepEqual(actions(bySid.DrainDeadLetters), ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage']);
    assert.equal((bySid.DrainDeadLetters.Resource as unknown[]).length, dlqIds.length);
    assert.deepEqual(actions(bySid.SendJobs), ['sqs:GetQueueAttributes', 'sqs:SendMessage']);
    assert.equal((bySid.SendJobs.Resource as unknown[]).length, jobQueueIds.length);
    assert.ok(!mentions(bySid.SendJobs.Resource, 'DeadLetter'));
    assert.deepEqual(actions(bySid.JobTable), ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    assert.deepEqual(actions(bySid.DueIndex), ['dynamodb:Query']);
    assert.ok(mentions(bySid.DueIndex.Resource, '/index/due'));
    assert.ok(mentions(bySid.DueIndex.Resource, '/index/tenancy'), 'slots to free, waiting jobs to admit');
  });

  it('KEDA role: only sqs:GetQueueAttributes on the job queues', () => {
    const stmts = roleStatements(cluster, 'KedaRole');
    assert.equal(stmts.length, 1);
    assert.deepEqual(actions(stmts[0]), ['sqs:GetQueueAttributes']);
    assert.equal((stmts[0].Resource as unknown[]).length, jobQueueIds.length);
    assert.ok(!mentions(stmts[0].Resource, 'DeadLetter'));
  });

  it('Pod Identity: one association per service account, roles trusted only by pods.eks.amazonaws.com for this account and cluster', () => {
    const assoc = Object.values(cluster.findResources('AWS::EKS::PodIdentityAssociation')).map((r) => r.Properties);
    const pairs = assoc.map((a) => `${a.Namespace}/${a.ServiceAccount}`).sort();
    assert.deepEqual(pairs, ['jobs/data-processor', 'jobs/data-processor-large', 'jobs/data-processor-long', 'jobs/data-processor-report',
      'jobs/data-processor-shell', 'jobs/data-processor-short',
      'jobs/jobs-reconciler', 'keda/keda-operator', 'kube-system/karpenter', 'logging/fluent-bit']);
    for (const prefix of ['WorkerRole', 'LargeWorkerRole', 'LongWorkerRole', 'ReportWorkerRole', 'ShellWorkerRole', 'ShortWorkerRole', 'ReconcilerRole', 'KedaRole', 'KarpenterControllerRole', 'ObservabilityFluentBitRole']) {
      const role = cluster.findResources('AWS::IAM::Role')[logicalId(cluster, 'AWS::IAM::Role', prefix)];
      const statements = role.Properties.AssumeRolePolicyDocument.Statement;
      assert.deepEqual(statements.map((s: { Action: string }) => s.Action).sort(), ['sts:AssumeRole', 'sts:TagSession'], prefix);
      for (const s of statements) {
        assert.deepEqual(s.Principal, { Service: 'pods.eks.amazonaws.com' }, prefix);
        // The confused deputy: only for this account's cluster.
        assert.ok(s.Condition?.StringEquals?.['aws:SourceAccount'], `${prefix}: aws:SourceAccount`);
        assert.match(JSON.stringify(s.Condition?.ArnEquals?.['aws:SourceArn']), /:cluster\//, `${prefix}: aws:SourceArn`);
      }
    }
    cluster.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' });
  });

  it('no static credentials anywhere', () => {
    for (const t of [data, api, cluster]) {
      t.resourceCountIs('AWS::IAM::AccessKey', 0);
      t.resourceCountIs('AWS::IAM::User', 0);
    }
  });

  it('KEDA and Karpenter Helm releases are pinned', () => {
    cluster.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', { Chart: 'keda', Version: VERSIONS.keda, Namespace: 'keda' });
    cluster.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', { Chart: 'karpenter', Version: VERSIONS.karpenter, Namespace: 'kube-system' });
  });

  it('Karpenter: interruption queue fed by the four EventBridge rules; node role is the one the EC2NodeClass names', () => {
    const rules = Object.values(cluster.findResources('AWS::Events::Rule')).map((r) => r.Properties.EventPattern['detail-type'][0]).sort();
    assert.deepEqual(rules, ['AWS Health Event', 'EC2 Instance Rebalance Recommendation', 'EC2 Instance State-change Notification', 'EC2 Spot Instance Interruption Warning']);
    cluster.hasResourceProperties('AWS::IAM::Role', { RoleName: built.cfg.karpenterNodeRoleName });
    cluster.hasResourceProperties('AWS::EKS::AccessEntry', { Type: 'EC2_LINUX' });
  });

  describe('the product\'s manifests, applied by the stack', () => {
    type K8sObject = { kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: any };
    const manifests = cluster.findResources('Custom::AWSCDK-EKS-KubernetesResource');
    const objects = (id: string): K8sObject[] => JSON.parse(manifests[id].Properties.Manifest);
    const jobsId = logicalId(cluster, 'Custom::AWSCDK-EKS-KubernetesResource', 'ClusterJobsManifests');
    const karpenterId = logicalId(cluster, 'Custom::AWSCDK-EKS-KubernetesResource', 'ClusterKarpenterManifests');
    const helm = (chart: string) => Object.entries(cluster.findResources('Custom::AWSCDK-EKS-HelmChart')).find(([, r]) => r.Properties.Chart === chart)![0];
    const kinds = (id: string) => objects(id).map((o) => `${o.kind}/${o.metadata.name}`).sort();
    /** The committed files of keda/ or karpenter/, as objects. */
    const committed = (dir: string): K8sObject[] => readdirSync(join(__dirname, '..', '..', '..', dir)).filter((f) => f.endsWith('.yaml'))
      .flatMap((f) => parseAllDocuments(readFileSync(join(__dirname, '..', '..', '..', dir, f), 'utf8')).map((d) => d.toJS() as K8sObject));
    /** Without the label the stack adds for `kubectl apply --prune`. */
    const unpruned = (o: K8sObject): K8sObject => {
      const labels = Object.fromEntries(Object.entries(o.metadata.labels ?? {}).filter(([k]) => !k.startsWith('aws.cdk.eks/prune-')));
      return { ...o, metadata: { ...o.metadata, labels } };
    };
    const byKey = (a: K8sObject, b: K8sObject) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);

    it('keda/: namespace, a service account and ScaledJob per lane (pool, command kind), TriggerAuthentication and the reconciler CronJob', () => {
      assert.deepEqual(kinds(jobsId), ['CronJob/jobs-reconciler', 'Namespace/jobs',
        'ScaledJob/data-processor', 'ScaledJob/data-processor-large', 'ScaledJob/data-processor-long', 'ScaledJob/data-processor-report',
        'ScaledJob/data-processor-shell', 'ScaledJob/data-processor-short',
        'ServiceAccount/data-processor', 'ServiceAccount/data-processor-large', 'ServiceAccount/data-processor-long',
        'ServiceAccount/data-processor-report', 'ServiceAccount/data-processor-shell', 'ServiceAccount/data-processor-short',
        'ServiceAccount/jobs-reconciler', 'TriggerAuthentication/keda-aws-sqs']);
      assert.deepEqual(kinds(karpenterId), ['EC2NodeClass/jobs', 'NodePool/jobs-on-demand', 'NodePool/jobs-spot']);
    });

    it('are the committed keda/ and karpenter/ YAML, object for object (GitOps users apply the same)', () => {
      assert.deepEqual(objects(jobsId).map(unpruned).sort(byKey), committed('keda').sort(byKey));
      assert.deepEqual(objects(karpenterId).map(unpruned).sort(byKey), committed('karpenter').sort(byKey));
    });

    it('are applied after the Helm releases whose CRDs they use, the node pool and the Pod Identity associations', () => {
      const dependsOn = (id: string): string[] => cluster.toJSON().Resources[id].DependsOn;
      assert.ok(dependsOn(karpenterId).includes(helm('karpenter')), 'NodePool/EC2NodeClass after the Karpenter release');
      const jobs = dependsOn(jobsId);
      for (const dep of [helm('keda'), karpenterId, 'WorkerPodIdentity', 'ReconcilerPodIdentity', 'KedaPodIdentity']) {
        assert.ok(jobs.includes(dep), `the job manifests wait for ${dep}: ${jobs}`);
      }
      // The releases are ready (CRDs established, webhooks up) before the manifests are applied.
      for (const chart of ['keda', 'karpenter']) assert.equal(cluster.toJSON().Resources[helm(chart)].Properties.Wait, true, chart);
    });

    it('run the image and tag of config.json, or of the -c imageTag context (the pipeline\'s commit id)', () => {
      const image = (objs: K8sObject[]) => objs.find((o) => o.kind === 'ScaledJob')!.spec.jobTargetRef.template.spec.containers[0].image;
      assert.equal(image(objects(jobsId)), built.cfg.image);
      const tagged = buildStacks(new App({ context: { imageTag: 'c0ffee1' } }), zip);
      const manifest = Template.fromStack(tagged.cluster).findResources('Custom::AWSCDK-EKS-KubernetesResource');
      const objs = Object.values(manifest).flatMap((r) => JSON.parse(r.Properties.Manifest) as K8sObject[]);
      assert.equal(image(objs), `${built.cfg.account}.dkr.ecr.${built.cfg.region}.amazonaws.com/${built.cfg.ecrRepositoryName}:c0ffee1`);
      const cron = objs.find((o) => o.kind === 'CronJob')!;
      assert.ok(cron.spec.jobTemplate.spec.template.spec.containers[0].image.endsWith(':c0ffee1'), 'the reconciler too');
      assert.throws(() => buildStacks(new App({ context: { imageTag: 'not a tag' } }), zip), /imageTag/);
    });

    it('a GitOps deployment (applyManifests: false) leaves them to Argo CD or Flux', () => {
      const dir = mkdtempSync(join(tmpdir(), 'gitops-'));
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(join(__dirname, '..', '..', 'config.json'), 'utf8')), applyManifests: false }));
      const gitops = Template.fromStack(buildStacks(new App({ context: { config: file } }), zip).cluster);
      // Only the platform's own objects (the log shipper), like the Helm releases.
      const applied = Object.keys(gitops.findResources('Custom::AWSCDK-EKS-KubernetesResource'));
      assert.equal(applied.length, 1, `${applied}`);
      assert.match(applied[0], /FluentBit/);
      gitops.resourceCountIs('Custom::AWSCDK-EKS-HelmChart', 2);
    });

    it('deploy order: data, then the cluster (the workers), then the API that may submit new kinds', () => {
      assert.deepEqual(built.api.dependencies.map((s) => s.stackName).sort(), ['JobsCluster', 'JobsData']);
      assert.deepEqual(built.cluster.dependencies.map((s) => s.stackName), ['JobsData']);
    });
  });

  it('EKS: current Kubernetes version, secrets encrypted with a rotating key', () => {
    cluster.hasResourceProperties('AWS::EKS::Cluster', { Version: '1.36', EncryptionConfig: Match.anyValue() });
    cluster.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });
});
