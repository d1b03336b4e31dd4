// config.json's pools: checked as jobs-core checks them (crates/jobs-core/src/pools/tests.rs has
// the same table), and what follows from them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCommandKinds, checkPools, checkTenants, CommandKindFile, loadConfig, PoolFile, quantity, queueNameOf, TenantsFile } from '../src/config';

const pool = (overrides: Record<string, unknown> = {}): PoolFile => ({
  description: 'd', capacity: 'spot',
  cpu: { request: '250m', limit: '1' }, memory: { request: '128Mi', limit: '512Mi' },
  ephemeralStorage: '1Gi', timeLimitMinutes: 60, maxReplicas: 50, pollingIntervalSecs: 10,
  execution: { mode: 'one-per-pod' },
  ...overrides,
} as PoolFile);

describe('pools', () => {
  it('the shipped config: the default first, then by name, each with its queues and deadline', () => {
    const cfg = loadConfig();
    assert.deepEqual(cfg.poolList.map((p) => p.name), ['default', 'large', 'long', 'short']);
    const long = cfg.poolList.find((p) => p.name === 'long')!;
    assert.equal(long.queues.high.url, `https://sqs.${cfg.region}.amazonaws.com/${cfg.account}/${cfg.appName}-long-high`);
    assert.equal(long.dlq.name, `${cfg.appName}-long-dlq`);
    assert.equal(long.attemptTimeoutSecs, 12 * 3600);
    assert.equal(long.activeDeadlineSecs, 300 + 12 * 3600 + 60);
    const def = cfg.poolList[0];
    assert.deepEqual([def.queues.normal.url, def.dlq.url, def.scaledJobName], [cfg.queueUrl, cfg.dlqUrl, 'data-processor']);
  });

  it('queue names: the default pool keeps the first release\'s', () => {
    const cases: Array<[string, 'high' | 'normal', string]> = [
      ['default', 'normal', 'jobs'], ['default', 'high', 'jobs-high'], ['long', 'normal', 'jobs-long'], ['long', 'high', 'jobs-long-high'],
    ];
    for (const [p, priority, want] of cases) assert.equal(queueNameOf('jobs', p, priority), want);
  });

  it('invalid pools are refused with the reason', () => {
    const cases: Array<[Record<string, PoolFile>, RegExp]> = [
      [{ other: pool() }, /must include "default"/],
      [{ default: pool(), Big: pool() }, /pool name "Big"/],
      [{ default: pool(), high: pool() }, /pool name "high"/],
      [{ default: pool(), 'a-b': pool() }, /pool name "a-b"/],
      [{ default: pool({ timeLimitMinutes: 721 }) }, /timeLimitMinutes must be 1 to 720/],
      [{ default: pool({ startDeadlineMinutes: 9 }) }, /startDeadlineMinutes must be 10 to 20160/],
      [{ default: pool({ startDeadlineMinutes: 20161 }) }, /startDeadlineMinutes must be 10 to 20160/],
      [{ default: pool({ timeLimitMinutes: 0 }) }, /timeLimitMinutes/],
      [{ default: pool({ cpu: { request: '2', limit: '1' } }) }, /cpu: the request must be/],
      [{ default: pool({ memory: { request: '1Gx', limit: '1Gi' } }) }, /not a Kubernetes quantity/],
      [{ default: pool({ ephemeralStorage: 'lots' }) }, /not a Kubernetes quantity/],
      [{ default: pool({ maxReplicas: 0 }) }, /maxReplicas/],
      [{ default: pool({ pollingIntervalSecs: 301 }) }, /pollingIntervalSecs/],
      [{ default: pool({ description: ' ' }) }, /description/],
      [{ default: pool({ execution: { mode: 'drain', maxJobs: 0, maxMinutes: 1 } }) }, /drain/],
      [{ default: pool({ execution: { mode: 'batch' } }) }, /execution.mode/],
      [{ default: pool({ capacity: 'reserved' }) }, /capacity/],
      [{ default: pool({ gpu: 1 }) }, /unknown field `gpu`/],
    ];
    for (const [pools, want] of cases) assert.throws(() => checkPools(pools), want, JSON.stringify(pools));
  });

  it('Kubernetes quantities', () => {
    const cases: Array<[string, number]> = [['250m', 0.25], ['1', 1], ['512Mi', 512 * 2 ** 20], ['1G', 1e9], ['129e6', 129e6], ['1.5Gi', 1.5 * 2 ** 30], ['.5', 0.5]];
    for (const [text, value] of cases) assert.equal(quantity(text), value, text);
    for (const bad of ['', 'Mi', '1.2.3', '12 Mi', '1MB', '-1']) assert.throws(() => quantity(bad), /not a Kubernetes quantity/, bad);
  });
});

// config.json's command kinds: checked as jobs-core checks them (crates/jobs-core/src/command/tests.rs
// has the same refusals, and also compiles each schema and checks its example against it).
describe('command kinds', () => {
  const cfg = loadConfig();
  const kind = (overrides: Record<string, unknown> = {}): CommandKindFile => ({
    description: 'a command', image: { build: 'examples' }, command: ['sh', 'job.sh'], example: {},
    ...overrides,
  } as CommandKindFile);

  it('the shipped config: a lane per command kind, after the pools, on queues of its own and its pool\'s DLQ', () => {
    assert.deepEqual(cfg.laneList.map((l) => l.name), ['default', 'large', 'long', 'short', 'report', 'shell']);
    const report = cfg.laneList.find((l) => l.name === 'report')!;
    assert.deepEqual([report.pool, report.queues.normal.name, report.queues.high.name, report.dlq.name],
      ['default', 'keda-sqs-jobs-report', 'keda-sqs-jobs-report-high', 'keda-sqs-jobs-dlq']);
    assert.equal(report.image, `${cfg.account}.dkr.ecr.${cfg.region}.amazonaws.com/keda-sqs-jobs/examples:${cfg.imageTag}`);
    assert.deepEqual(report.command?.command, ['python3', 'report.py']);
  });

  it('invalid command kinds are refused with the reason', () => {
    const cases: Array<[Record<string, CommandKindFile>, RegExp]> = [
      [{ Report: kind() }, /the name must be/],
      [{ 'a-': kind() }, /the name must be/],
      [{ ['x'.repeat(25)]: kind() }, /the name must be/],
      [{ 'etl-high': kind() }, /the name must be/],
      [{ long: kind() }, /a pool has this name/],
      [{ report: kind({ description: ' ' }) }, /description/],
      [{ report: kind({ pool: 'gpu' }) }, /pool "gpu" is not declared/],
      [{ report: kind({ image: '' }) }, /not an image reference/],
      [{ report: kind({ image: { build: '../elsewhere' } }) }, /inside the repository/],
      [{ report: kind({ command: [] }) }, /command must be/],
      [{ report: kind({ command: ['sh', ''] }) }, /command must be/],
      [{ report: kind({ workingDir: '' }) }, /workingDir/],
      [{ report: kind({ env: { JOB_ID: 'x' } }) }, /the job contract's/],
      [{ report: kind({ env: { lower: 'x' } }) }, /env "lower"/],
      [{ report: kind({ permanentExitCodes: [0] }) }, /0 is not an exit code of a failure/],
      [{ report: kind({ permanentExitCodes: [256] }) }, /256 is not/],
      [{ report: kind({ maxAttempts: 0 }) }, /maxAttempts/],
      [{ report: kind({ timeoutSecs: 3601 }) }, /timeoutSecs must be 1 to the pool's time limit \(3600 s\)/],
      [{ report: kind({ startDeadlineMinutes: 5 }) }, /startDeadlineMinutes must be 10 to 20160/],
      [{ report: kind({ timeoutSecs: 0 }) }, /timeoutSecs/],
      [{ report: kind({ backoffMaxSecs: 43201 }) }, /backoffMaxSecs/],
      [{ report: kind({ example: [] }) }, /example must be a payload/],
      [{ report: kind({ unknown: 1 }) }, /unknown field `unknown`/],
    ];
    for (const [kinds, want] of cases) assert.throws(() => checkCommandKinds(kinds, cfg.poolList), want, JSON.stringify(kinds));
    assert.deepEqual(checkCommandKinds({ 'etl-2': kind({ image: 'registry.example/etl:1.4', pool: 'large', timeoutSecs: 7200 }) }, cfg.poolList).map(([n]) => n), ['etl-2']);
  });
});

// The same refusals as crates/jobs-core/src/tenants (the_config_names_the_tenants_with_metrics_of_their_own).
describe('tenants', () => {
  it('the config names at most 100 distinct, valid tenants for metrics', () => {
    assert.deepEqual(checkTenants(undefined), []);
    assert.deepEqual(checkTenants({ metrics: ['acme', 'globex'] }), ['acme', 'globex']);
    assert.deepEqual(checkTenants({ defaults: { maxRunning: 20, maxStartsPerMinute: 0, weight: 1 } }), []);
    assert.deepEqual(loadConfig().metricTenants, ['acme'], 'the shipped config names acme (make demo submits for it)');
    const many = Array.from({ length: 101 }, (_, i) => `t${i}`);
    const cases: Array<[TenantsFile, RegExp]> = [
      [{ metrics: ['a b'] }, /"a b" is not a tenant/],
      [{ metrics: ['x'.repeat(65)] }, /is not a tenant/],
      [{ metrics: ['acme', 'acme'] }, /names "acme" twice/],
      [{ metric: [] } as unknown as TenantsFile, /unknown field `metric`/],
      [{ metrics: many }, /101 tenants; at most 100/],
      [{ defaults: { weight: 0 } }, /defaults: weight must be 1..=100/],
      [{ defaults: { maxRunning: 100_001 } }, /defaults: maxRunning must be 0..=100000/],
      [{ defaults: { maxRunning: 1.5 } }, /defaults: maxRunning must be/],
      [{ defaults: { maxRuning: 1 } } as unknown as TenantsFile, /defaults: unknown field `maxRuning`/],
    ];
    for (const [tenants, want] of cases) assert.throws(() => checkTenants(tenants), want, JSON.stringify(tenants));
  });
});
