// The cdk8s charts: the properties the design depends on, read from the rendered manifests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig, nodePoolOf, POOL_MARGINS, QUEUE, RECONCILER, WORKER } from '../src/config';
import { DRAIN_JOBS_PER_POD, WORKER_BIN_DIR } from '../src/k8s/jobs-chart';
import { renderManifests } from '../src/k8s/manifests';

const cfg = loadConfig();
const files = renderManifests(cfg);
const doc = (path: string) => {
  const text = files.get(path);
  assert.ok(text, `${path} rendered`);
  return parse(text);
};
type Env = { name: string; value: string };
const envOf = (c: { env: Env[] }) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

describe('keda/', () => {
  const sj = doc('keda/scaledjob.yaml');
  const pod = sj.spec.jobTargetRef.template.spec;
  const container = pod.containers[0];

  it('renders the namespace, trigger authentication, a service account and scaled job per lane (pool, command kind), and the reconciler', () => {
    assert.deepEqual([...files.keys()].filter((f) => f.startsWith('keda/')).sort(),
      ['keda/cronjob.yaml', 'keda/namespace.yaml', 'keda/reconciler-serviceaccount.yaml',
        'keda/scaledjob-large.yaml', 'keda/scaledjob-long.yaml', 'keda/scaledjob-report.yaml', 'keda/scaledjob-shell.yaml',
        'keda/scaledjob-short.yaml', 'keda/scaledjob.yaml',
        'keda/serviceaccount-large.yaml', 'keda/serviceaccount-long.yaml', 'keda/serviceaccount-report.yaml',
        'keda/serviceaccount-shell.yaml', 'keda/serviceaccount-short.yaml',
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
    assert.equal(rpod.tolerations, undefined, 'not on the job node pools');
    const c = rpod.containers[0];
    assert.deepEqual(c.args, ['reconcile', '--every', String(RECONCILER.everySecs), '--for', String(RECONCILER.forSecs)]);
    assert.equal(c.image, cfg.image);
    assert.deepEqual(c.securityContext, container.securityContext);
    // The default pool's queue names every pool's queues.
    const env = envOf(c);
    assert.deepEqual([env.QUEUE_URL, env.DLQ_URL, env.TABLE_NAME], [cfg.queueUrl, cfg.dlqUrl, cfg.tableName]);
  });

  it('trigger authentication uses the aws pod identity provider (no secrets)', () => {
    const ta = doc('keda/triggerauthentication.yaml');
    assert.deepEqual(ta.spec, { podIdentity: { provider: 'aws', identityOwner: 'keda' } });
  });

  for (const pool of cfg.laneList) {
    describe(`${pool.command ? 'command kind' : 'pool'} ${pool.name}`, () => {
      const sj = doc(`keda/${pool.file}.yaml`);
      const job = sj.spec.jobTargetRef;
      const pod = job.template.spec;
      const container = pod.containers[0];
      const env = envOf(container);

      it('one aws-sqs-queue trigger per priority queue, summed; accurate strategy with pendingPodConditions', () => {
        assert.equal(sj.metadata.name, pool.scaledJobName);
        assert.deepEqual(sj.spec.triggers.map((t: { metadata: { queueURL: string } }) => t.metadata.queueURL), [pool.queues.high.url, pool.queues.normal.url]);
        for (const t of sj.spec.triggers) {
          assert.equal(t.type, 'aws-sqs-queue');
          assert.equal(t.metadata.awsRegion, cfg.region);
          assert.equal(t.metadata.queueLength, String(pool.execution.mode === 'drain' ? DRAIN_JOBS_PER_POD : 1));
          assert.equal(t.metadata.scaleOnInFlight, 'false');
          assert.equal(t.authenticationRef.name, doc('keda/triggerauthentication.yaml').metadata.name);
        }
        assert.equal(sj.spec.scalingStrategy.multipleScalersCalculation, 'sum');
        assert.equal(sj.spec.scalingStrategy.strategy, 'accurate');
        assert.ok(sj.spec.scalingStrategy.pendingPodConditions.length > 0);
        assert.equal(sj.spec.maxReplicaCount, pool.maxReplicas);
        assert.equal(sj.spec.pollingInterval, pool.pollingIntervalSecs);
      });

      it('the deadline follows the time limit with the stated margins; the attempt limit is the time limit', () => {
        const drain = pool.execution.mode === 'drain' ? pool.execution.maxMinutes * 60 : 0;
        assert.equal(job.activeDeadlineSeconds, POOL_MARGINS.startSecs + drain + pool.timeLimitMinutes * 60 + POOL_MARGINS.stopSecs);
        assert.equal(env.ATTEMPT_TIMEOUT_SECS, String(pool.timeLimitMinutes * 60));
        assert.ok(Number(env.ATTEMPT_TIMEOUT_SECS) + POOL_MARGINS.stopSecs < job.activeDeadlineSeconds);
        assert.equal(env.DRAIN, pool.execution.mode === 'drain' ? 'true' : undefined);
        if (pool.execution.mode === 'drain') {
          assert.equal(env.DRAIN_MAX_JOBS, String(pool.execution.maxJobs));
          assert.equal(env.DRAIN_MAX_SECS, String(pool.execution.maxMinutes * 60));
        }
      });

      it('Job: SQS owns retries, never restarted, protected from Karpenter disruption, its own service account', () => {
        assert.equal(job.backoffLimit, 0);
        assert.equal(pod.restartPolicy, 'Never');
        assert.equal(pod.terminationGracePeriodSeconds, WORKER.terminationGracePeriodSecs);
        assert.equal(job.template.metadata.annotations['karpenter.sh/do-not-disrupt'], 'true');
        const suffix = pool.file.replace(/^scaledjob/, '');
        assert.equal(pod.serviceAccountName, doc(`keda/serviceaccount${suffix}.yaml`).metadata.name);
        assert.equal(pod.serviceAccountName, pool.serviceAccount);
      });

      it('the shape of the config: requests, limits, ephemeral storage', () => {
        assert.deepEqual(container.resources, {
          requests: { cpu: pool.cpu.request, memory: pool.memory.request, 'ephemeral-storage': pool.ephemeralStorage },
          limits: { cpu: pool.cpu.limit, memory: pool.memory.limit, 'ephemeral-storage': pool.ephemeralStorage },
        });
      });

      it('runs on its capacity type\'s NodePool: its labels as selector, its taint tolerated', () => {
        const np = doc(`karpenter/nodepool-${pool.capacity}.yaml`);
        assert.equal(np.metadata.name, nodePoolOf(pool.capacity));
        const labels = np.spec.template.metadata.labels;
        for (const [k, v] of Object.entries(labels)) assert.equal(pod.nodeSelector[k], v);
        assert.equal(pod.nodeSelector['karpenter.sh/capacity-type'], pool.capacity);
        for (const taint of np.spec.template.spec.taints) {
          assert.ok(pod.tolerations.some((t: { key: string; value: string; effect: string }) => t.key === taint.key && t.value === taint.value && t.effect === taint.effect));
        }
        // A node is never forced down under a running job of this pool.
        assert.ok(Number(np.spec.template.spec.terminationGracePeriod.replace(/s$/, '')) >= job.activeDeadlineSeconds);
      });

      it('worker env: its own queues (high first), its DLQ, its name, the shared table', () => {
        assert.deepEqual([env.POOL, env.QUEUE_URL, env.HIGH_QUEUE_URL, env.DLQ_URL], [pool.pool, pool.queues.normal.url, pool.queues.high.url, pool.dlq.url]);
        assert.equal(env.TABLE_NAME, cfg.tableName);
        assert.equal(env.AWS_REGION, cfg.region);
        assert.equal(env.VISIBILITY_TIMEOUT_SECS, String(QUEUE.visibilityTimeoutSecs));
        assert.equal(container.image, pool.image);
        if (!pool.command) assert.equal(container.image, cfg.image);
      });

      if (pool.command) {
        it('a command kind: its image, the worker copied beside the command by an init container, in its pool\'s shape and limits', () => {
          const base = cfg.poolList.find((p) => p.name === pool.pool)!;
          assert.equal(pool.dlq.url, base.dlq.url, 'dead letters go to its pool\'s DLQ');
          assert.equal(job.activeDeadlineSeconds, base.activeDeadlineSecs);
          assert.equal(pool.queues.normal.name, `${cfg.appName}-${pool.name}`);
          const built = typeof pool.command!.image === 'string' ? undefined : cfg.builtImages.get(pool.command!.image.build);
          assert.equal(container.image, built ? built.image : pool.command!.image);
          assert.ok(container.image.startsWith(`${cfg.account}.dkr.ecr.${cfg.region}.amazonaws.com/${cfg.appName}/`), container.image);
          const init = pod.initContainers;
          assert.equal(init.length, 1);
          assert.equal(init[0].image, cfg.image);
          assert.deepEqual(init[0].args, ['install', `${WORKER_BIN_DIR}/data-processor`]);
          assert.deepEqual(container.command, [`${WORKER_BIN_DIR}/data-processor`]);
          assert.equal(env.KIND, pool.name);
          const mounts = Object.fromEntries(container.volumeMounts.map((m: { name: string; mountPath: string; readOnly?: boolean }) => [m.mountPath, m]));
          assert.deepEqual([mounts[WORKER_BIN_DIR].name, mounts[WORKER_BIN_DIR].readOnly], [init[0].volumeMounts[0].name, true]);
          assert.equal(mounts['/tmp'].name, 'scratch', 'payload and result files on an emptyDir: the root stays read-only');
          assert.deepEqual(pod.volumes.map((v: { name: string; emptyDir: object }) => [v.name, Object.keys(v.emptyDir)]), [['worker', ['sizeLimit']], ['scratch', ['sizeLimit']]]);
          assert.deepEqual(init[0].securityContext, container.securityContext);
          assert.equal(sj.metadata.labels[`${cfg.appName}/kind`], pool.name);
        });
      }
    });
  }

  it('the default pool keeps the first release\'s names (its queue, ScaledJob and service account)', () => {
    assert.equal(sj.metadata.name, 'data-processor');
    assert.equal(envOf(container).QUEUE_URL, cfg.queueUrl);
    assert.equal(pod.serviceAccountName, cfg.workerServiceAccount);
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
  });
});

describe('karpenter/', () => {
  it('one NodePool per capacity type the pools use: diverse instances, limits, consolidation when empty, expiry with a grace, budgets', () => {
    const capacities = [...new Set(cfg.poolList.map((p) => p.capacity))].sort();
    assert.deepEqual([...files.keys()].filter((f) => f.startsWith('karpenter/nodepool')).sort(), capacities.map((c) => `karpenter/nodepool-${c}.yaml`));
    for (const capacity of capacities) {
      const np = doc(`karpenter/nodepool-${capacity}.yaml`);
      const req = Object.fromEntries(np.spec.template.spec.requirements.map((r: { key: string }) => [r.key, r]));
      assert.deepEqual(req['karpenter.sh/capacity-type'].values, [capacity]);
      assert.ok(req['karpenter.k8s.aws/instance-category'].values.length >= 3);
      assert.ok(req['karpenter.k8s.aws/instance-family'].minValues >= 3);
      assert.equal(np.spec.disruption.consolidationPolicy, 'WhenEmpty');
      assert.ok(np.spec.disruption.consolidateAfter);
      assert.ok(np.spec.disruption.budgets.length > 0);
      assert.ok(np.spec.template.spec.expireAfter && np.spec.template.spec.terminationGracePeriod, 'terminationGracePeriod next to expireAfter');
      assert.ok(np.spec.limits.cpu && np.spec.limits.memory);
      assert.equal(np.spec.template.spec.nodeClassRef.name, doc('karpenter/ec2nodeclass.yaml').metadata.name);
    }
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
