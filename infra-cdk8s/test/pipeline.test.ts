// CDK assertion tests of the delivery pipeline (test/config.pipeline.json: a staging stage in the
// pipeline's account, a production stage in another account behind a manual approval).
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildPipeline } from '../bin/app';
import { CDK_ASSETS_VERSION, CDK_CLI_VERSION } from '../src/stacks/pipeline-stack';
import { deployCheckRoleName, loadConfig } from '../src/config';

const zip = join(mkdtempSync(join(tmpdir(), 'pipeline-test-')), 'api-lambda.zip');
writeFileSync(zip, 'not inspected by these tests');
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const built = buildPipeline(new App({ context: { config: join(__dirname, '..', '..', 'test', 'config.pipeline.json'), imageTag: COMMIT } }), zip);
const p = built.cfg.pipeline!;
const t = Template.fromStack(built.pipeline);
const json = t.toJSON();

type Action = { Name: string; RunOrder: number; ActionTypeId: { Category: string; Provider: string }; Configuration?: Record<string, any>; RoleArn?: unknown };
type PipelineStage = { Name: string; Actions: Action[] };
const stages: PipelineStage[] = Object.values(t.findResources('AWS::CodePipeline::Pipeline'))[0].Properties.Stages;
const stage = (name: string) => stages.find((s) => s.Name === name)!;
const action = (s: PipelineStage, name: string) => s.Actions.find((a) => a.Name === name)!;
const projects = t.findResources('AWS::CodeBuild::Project');
/** The CodeBuild project a pipeline action runs. */
const projectOf = (a: Action) => projects[a.Configuration!.ProjectName.Ref];
/** Statements of the policies attached to the role of a CodeBuild project. */
function projectStatements(project: any): any[] {
  const role = project.Properties.ServiceRole['Fn::GetAtt'][0];
  return Object.values(t.findResources('AWS::IAM::Policy'))
    .filter((pol) => JSON.stringify(pol.Properties.Roles) === JSON.stringify([{ Ref: role }]))
    .flatMap((pol) => pol.Properties.PolicyDocument.Statement);
}
/** The commands of a project's buildspec, one per line. */
const buildspec = (project: any): string => {
  const spec = JSON.parse(project.Properties.Source.BuildSpec);
  return Object.values(spec.phases as Record<string, { commands: string[] }>).flatMap((ph) => ph.commands).join('\n');
};
/** An action's environment: the project's own variables and those the action passes (pipeline variables). */
const envOf = (a: Action): Array<{ name: string; value: string }> => [
  ...(projectOf(a).Properties.Environment.EnvironmentVariables ?? []).map((e: any) => ({ name: e.Name, value: e.Value })),
  ...JSON.parse(a.Configuration!.EnvironmentVariables ?? '[]'),
];

describe('JobsPipeline', () => {
  it('source: the GitHub repository and branch through the configured connection, on every push', () => {
    const source = stage('Source').Actions[0];
    assert.equal(source.ActionTypeId.Provider, 'CodeStarSourceConnection');
    assert.deepEqual(
      [source.Configuration!.ConnectionArn, source.Configuration!.FullRepositoryId, source.Configuration!.BranchName],
      [p.connectionArn, p.repository, p.branch],
    );
    assert.notEqual(source.Configuration!.DetectChanges, false);
  });

  it('stage order: source, synth, self-mutation, assets, then each environment as configured', () => {
    assert.deepEqual(stages.map((s) => s.Name), ['Source', 'Build', 'UpdatePipeline', 'Assets', ...p.stages.map((s) => s.name)]);
    assert.equal(stage('UpdatePipeline').Actions[0].Name, 'SelfMutate');
    // Pinned CLIs: the CDK CLI of package.json, a fixed cdk-assets.
    const selfMutate = JSON.parse(projectOf(stage('UpdatePipeline').Actions[0]).Properties.Source.BuildSpec);
    assert.ok(JSON.stringify(selfMutate).includes(`aws-cdk@${CDK_CLI_VERSION}`), JSON.stringify(selfMutate));
    assert.match(CDK_CLI_VERSION, /^2\.\d+\.\d+$/);
    const assets = stage('Assets').Actions.map((a) => JSON.stringify(JSON.parse(projectOf(a).Properties.Source.BuildSpec)));
    for (const spec of assets) assert.ok(spec.includes(`cdk-assets@${CDK_ASSETS_VERSION}`), spec);
  });

  it('synth: the project\'s own script with the commit id as image tag, on the pinned CodeBuild image', () => {
    const synth = action(stage('Build'), 'Synth');
    assert.match(buildspec(projectOf(synth)), /tools\/pipeline\/synth\.sh/);
    const runtimes = JSON.parse(projectOf(synth).Properties.Source.BuildSpec).phases.install['runtime-versions'];
    assert.deepEqual(runtimes, { nodejs: '20', python: '3.11' });
    const tag = envOf(synth).find((e) => e.name === 'IMAGE_TAG')!;
    assert.equal(tag.value, '#{Source@example-org_keda-sqs-jobs.CommitId}');
    for (const [id, project] of Object.entries(projects)) {
      assert.equal(project.Properties.Environment.Image, 'aws/codebuild/standard:7.0', id);
    }
  });

  for (const s of p.stages) {
    describe(`stage ${s.name}`, () => {
      const actions = stage(s.name).Actions;
      const order = (name: string) => action(stage(s.name), name).RunOrder;

      it(s.approval ? 'a manual approval, then data -> image -> cluster -> API -> check' : 'data -> image -> cluster -> API -> check, no approval', () => {
        const approvals = actions.filter((a) => a.ActionTypeId.Category === 'Approval');
        assert.equal(approvals.length, s.approval ? 1 : 0);
        const chain = ['JobsData.Deploy', 'JobsData.PushWorkerImage', 'JobsCluster.Deploy', 'JobsApi.Deploy', 'DeployCheck'].map(order);
        for (let i = 1; i < chain.length; i++) assert.ok(chain[i - 1] < chain[i], `${chain}`);
        if (s.approval) assert.ok(approvals[0].RunOrder < order('JobsData.Prepare'), 'approval before anything deploys');
      });

      it('the image step pushes this commit\'s image to this stage\'s repository only', () => {
        const push = action(stage(s.name), 'JobsData.PushWorkerImage');
        const project = projectOf(push);
        assert.equal(project.Properties.Environment.PrivilegedMode, true, 'docker build');
        assert.match(buildspec(project), /tools\/pipeline\/push-image\.sh/);
        const env = Object.fromEntries(envOf(push).map((e) => [e.name, e.value]));
        assert.equal(env.IMAGE_TAG, '#{Source@example-org_keda-sqs-jobs.CommitId}');
        assert.equal(env.REGISTRY, `${s.account}.dkr.ecr.${s.region}.amazonaws.com`);
        const stmts = projectStatements(project);
        const push_ = stmts.find((x) => x.Sid === 'PushWorkerImage');
        assert.deepEqual(push_.Resource, `arn:aws:ecr:${s.region}:${s.account}:repository/${built.cfg.ecrRepositoryName}`);
        assert.deepEqual(stmts.find((x) => x.Sid === 'RegistryLogin').Action, 'ecr:GetAuthorizationToken');
      });

      it('the post-deploy check runs jobsctl against the stage\'s API URL as the deploy-check role', () => {
        const check = action(stage(s.name), 'DeployCheck');
        const project = projectOf(check);
        assert.match(buildspec(project), /jobsctl --api "\$API_URL" check/);
        const env = Object.fromEntries(envOf(check).map((e) => [e.name, e.value]));
        assert.match(env.API_URL, /^#\{.*ApiUrl.*\}$/, 'from the JobsApi output');
        const role = `arn:aws:iam::${s.account}:role/${deployCheckRoleName(built.cfg)}`;
        assert.equal(env.CHECK_ROLE_ARN, role);
        const assume = projectStatements(project).find((x) => x.Sid === 'AssumeDeployCheckRole');
        assert.deepEqual([assume.Action, assume.Resource], ['sts:AssumeRole', role]);
      });

      const jobs = built.pipeline.stages.find((j) => j.stageName === s.name)!;
      it('its stacks deploy to the stage\'s account with this commit\'s image (manifests) and release (Lambda)', () => {
        assert.deepEqual([jobs.stacks.data.account, jobs.stacks.data.region], [s.account, s.region]);
        const manifests = Template.fromStack(jobs.stacks.cluster).findResources('Custom::AWSCDK-EKS-KubernetesResource');
        const images = Object.values(manifests).flatMap((r) => JSON.parse(r.Properties.Manifest))
          .filter((o: any) => o.kind === 'ScaledJob').map((o: any) => o.spec.jobTargetRef.template.spec.containers[0].image);
        // Every pool's ScaledJob runs the same image.
        assert.deepEqual(images, built.cfg.poolList.map(() => `${s.account}.dkr.ecr.${s.region}.amazonaws.com/${built.cfg.ecrRepositoryName}:${COMMIT}`));
        Template.fromStack(jobs.stacks.api).hasResourceProperties('AWS::Lambda::Function', {
          Environment: { Variables: Match.objectLike({ RELEASE: COMMIT }) },
        });
      });

      it('its API trusts only the pipeline\'s roles with the check, which may submit and read, nothing else', () => {
        const api = Template.fromStack(jobs.stacks.api);
        const roles = api.findResources('AWS::IAM::Role', { Properties: { RoleName: deployCheckRoleName(built.cfg) } });
        const [roleId, role] = Object.entries(roles)[0];
        const trust = role.Properties.AssumeRolePolicyDocument.Statement[0];
        assert.match(JSON.stringify(trust.Principal), new RegExp(`:iam::${p.account}:root`));
        assert.deepEqual(trust.Condition, { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${p.account}:role/JobsPipeline-*` } });
        const stmts = Object.values(api.findResources('AWS::IAM::Policy'))
          .filter((pol) => JSON.stringify(pol.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
          .flatMap((pol) => pol.Properties.PolicyDocument.Statement);
        assert.equal(stmts.length, 1);
        assert.equal(stmts[0].Action, 'execute-api:Invoke');
        const resources = JSON.stringify(stmts[0].Resource);
        assert.ok(resources.includes('/$default/POST/jobs"') && resources.includes('/$default/GET/jobs/*'), resources);
      });

      it(s.account === p.account ? 'no repository policy (same account)' : 'its repository lets the pipeline account\'s roles push', () => {
        const repo = Object.values(Template.fromStack(jobs.stacks.data).findResources('AWS::ECR::Repository'))[0];
        const policy = repo.Properties.RepositoryPolicyText;
        if (s.account === p.account) return assert.equal(policy, undefined);
        const stmt = policy.Statement[0];
        assert.equal(stmt.Sid, 'PipelinePush');
        assert.match(JSON.stringify(stmt.Principal), new RegExp(`:iam::${p.account}:root`));
        assert.deepEqual(stmt.Condition, { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${p.account}:role/JobsPipeline-*` } });
        assert.ok(!stmt.Action.includes('ecr:*'));
      });
    });
  }

  it('artifacts are KMS-encrypted with a rotating key (a stage is in another account)', () => {
    t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('no static credentials, no IAM users', () => {
    t.resourceCountIs('AWS::IAM::AccessKey', 0);
    t.resourceCountIs('AWS::IAM::User', 0);
    assert.ok(!JSON.stringify(json).includes('AWS_SECRET_ACCESS_KEY'));
  });

  it('a config without a pipeline has none; an invalid one is refused', () => {
    assert.throws(() => buildPipeline(new App(), zip), /has no pipeline/);
    const dir = mkdtempSync(join(tmpdir(), 'pipeline-config-'));
    const fixture = JSON.parse(readFileSync(join(__dirname, '..', '..', 'test', 'config.pipeline.json'), 'utf8'));
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ connectionArn: 'arn:aws:iam::111122223333:role/x' }, /connectionArn/],
      [{ repository: 'no-owner' }, /owner\/name/],
      [{ stages: [] }, /at least one stage/],
      [{ stages: [{ name: 'prod', account: '1', region: 'eu-west-1' }] }, /stage prod/],
      [{ stages: [{ name: 'a', account: '111122223333', region: 'eu-west-1' }, { name: 'a', account: '111122223333', region: 'eu-west-2' }] }, /repeated/],
      [{ stages: [{ name: 'a', account: '111122223333', region: 'eu-west-1' }, { name: 'b', account: '111122223333', region: 'eu-west-1' }] }, /share an account and region/],
    ];
    for (const [change, error] of cases) {
      const file = join(dir, 'config.json');
      writeFileSync(file, JSON.stringify({ ...fixture, pipeline: { ...fixture.pipeline, ...change } }));
      assert.throws(() => loadConfig(file), error, JSON.stringify(change));
    }
  });
});
