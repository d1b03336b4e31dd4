// The cdk8s charts: the properties the design depends on, read from the rendered manifests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig, QUEUE, RECONCILER, WORKER } from '../src/config';
import { renderManifests } from '../src/k8s/manifests';

const cfg = loadConfig();
const files = renderManifests(cfg);
const doc = (path: string) => {
  const text = files.get(path);
  assert.ok(text, `${path} rendered`);
  return parse(text);
};

describe('keda/', () => {
  const sj = doc('keda/scaledjob.yaml');
  const pod = sj.spec.jobTargetRef.template.spec;
  const container = pod.containers[0];

  it('renders exactly the namespace, service accounts, trigger authentication, scaled job and reconciler', () => {
    assert.deepEqual([...files.keys()].filter((f) => f.startsWith('keda/')).sort(),
      ['keda/cronjob.yaml', 'keda/namespace.yaml', 'keda/reconciler-serviceaccount.yaml', 'keda/scaledjob.yaml',
        'keda/serviceaccount.yaml', 'keda/triggerauthentication.yaml']);
  });

  it('reconciler CronJob: every minute, one at a time, passes for less than a minute, its own identity, system nodes', () => {
    const cj = doc('keda/cronjob.yaml');
    assert.equal(cj.spec.schedule, RECONCILER.schedule);
    assert.equal(cj.spec.concurrencyPolicy, 'Forbid');
    const job = cj.spec.jobTemplate.spec;
    assert.equal(job.backoffLimit, 0);
    assert.ok(RECONCILER.forSecs + RECONCILER.everySecs <= 60 && RECONCILER.forSecs < job.activeDeadlineSeconds);
    const rpod = job.template.spec;
    assert.equal(rpod.serviceAccountName, doc('keda/reconciler-serviceaccount.yaml').metadata.name);
    assert.equal(rpod.serviceAccountName, cfg.reconcilerServiceAccount);
    assert.equal(rpod.tolerations, undefined, 'not on the spot pool');
    const c = rpod.containers[0];
    assert.deepEqual(c.args, ['reconcile', '--every', String(RECONCILER.everySecs), '--for', String(RECONCILER.forSecs)]);
    assert.equal(c.image, cfg.image);
    assert.deepEqual(c.securityContext, container.securityContext);
    const env = Object.fromEntries(c.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.deepEqual([env.QUEUE_URL, env.DLQ_URL, env.TABLE_NAME], [cfg.queueUrl, cfg.dlqUrl, cfg.tableName]);
  });

  it('aws-sqs-queue trigger: one job per visible message, accurate strategy with pendingPodConditions', () => {
    assert.equal(sj.spec.triggers.length, 1);
    const t = sj.spec.triggers[0];
    assert.equal(t.type, 'aws-sqs-queue');
    assert.equal(t.metadata.queueURL, cfg.queueUrl);
    assert.equal(t.metadata.awsRegion, cfg.region);
    assert.equal(t.metadata.queueLength, '1');
    assert.equal(t.metadata.scaleOnInFlight, 'false');
    assert.equal(t.authenticationRef.name, doc('keda/triggerauthentication.yaml').metadata.name);
    assert.equal(sj.spec.scalingStrategy.strategy, 'accurate');
    assert.ok(sj.spec.scalingStrategy.pendingPodConditions.length > 0);
    assert.equal(sj.spec.maxReplicaCount, cfg.maxJobs);
  });

  it('trigger authentication uses the aws pod identity provider (no secrets)', () => {
    const ta = doc('keda/triggerauthentication.yaml');
    assert.deepEqual(ta.spec, { podIdentity: { provider: 'aws', identityOwner: 'keda' } });
  });

  it('Job: SQS owns retries, a deadline, never restarted, protected from Karpenter disruption', () => {
    assert.equal(sj.spec.jobTargetRef.backoffLimit, 0);
    assert.equal(sj.spec.jobTargetRef.activeDeadlineSeconds, WORKER.activeDeadlineSecs);
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.terminationGracePeriodSeconds, WORKER.terminationGracePeriodSecs);
    assert.equal(sj.spec.jobTargetRef.template.metadata.annotations['karpenter.sh/do-not-disrupt'], 'true');
    assert.equal(pod.serviceAccountName, doc('keda/serviceaccount.yaml').metadata.name);
  });

  it('pod security "restricted"', () => {
    assert.equal(doc('keda/namespace.yaml').metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.deepEqual(container.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.ok(container.resources.requests.cpu && container.resources.limits.memory);
  });

  it('runs on the spot NodePool: its label as selector, its taint tolerated', () => {
    const np = doc('karpenter/nodepool.yaml');
    const labels = np.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(labels)) assert.equal(pod.nodeSelector[k], v);
    for (const taint of np.spec.template.spec.taints) {
      assert.ok(pod.tolerations.some((t: { key: string; value: string; effect: string }) => t.key === taint.key && t.value === taint.value && t.effect === taint.effect));
    }
  });

  it('worker env comes from the shared config', () => {
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.equal(env.QUEUE_URL, cfg.queueUrl);
    assert.equal(env.DLQ_URL, cfg.dlqUrl);
    assert.equal(env.TABLE_NAME, cfg.tableName);
    assert.equal(env.AWS_REGION, cfg.region);
    assert.equal(env.VISIBILITY_TIMEOUT_SECS, String(QUEUE.visibilityTimeoutSecs));
    // The worker's own attempt limit stays below the Job's deadline, so a hung job fails as timed out.
    assert.ok(Number(env.ATTEMPT_TIMEOUT_SECS) < sj.spec.jobTargetRef.activeDeadlineSeconds);
    assert.equal(container.image, cfg.image);
  });
});

describe('karpenter/', () => {
  it('NodePool: spot only, diverse instances, limits, consolidation when empty, expiry', () => {
    const np = doc('karpenter/nodepool.yaml');
    const req = Object.fromEntries(np.spec.template.spec.requirements.map((r: { key: string }) => [r.key, r]));
    assert.deepEqual(req['karpenter.sh/capacity-type'].values, ['spot']);
    assert.ok(req['karpenter.k8s.aws/instance-category'].values.length >= 3);
    assert.ok(req['karpenter.k8s.aws/instance-family'].minValues >= 3);
    assert.equal(np.spec.disruption.consolidationPolicy, 'WhenEmpty');
    assert.ok(np.spec.disruption.consolidateAfter);
    assert.ok(np.spec.template.spec.expireAfter);
    assert.ok(np.spec.limits.cpu && np.spec.limits.memory);
    assert.equal(np.spec.template.spec.nodeClassRef.name, doc('karpenter/ec2nodeclass.yaml').metadata.name);
  });

  it('EC2NodeClass: Bottlerocket, discovery by tag, the CDK node role', () => {
    const nc = doc('karpenter/ec2nodeclass.yaml');
    assert.match(nc.spec.amiSelectorTerms[0].alias, /^bottlerocket@/);
    assert.equal(nc.spec.role, cfg.karpenterNodeRoleName);
    assert.deepEqual(nc.spec.subnetSelectorTerms, [{ tags: { 'karpenter.sh/discovery': cfg.clusterName } }]);
    assert.deepEqual(nc.spec.securityGroupSelectorTerms, [{ tags: { 'karpenter.sh/discovery': cfg.clusterName } }]);
    assert.equal(nc.spec.metadataOptions.httpTokens, 'required');
  });
});
