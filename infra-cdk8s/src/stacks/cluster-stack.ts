// JobsCluster: the EKS cluster the jobs run on, KEDA and Karpenter (Helm, pinned), Karpenter's
// interruption queue and EventBridge rules, the Pod Identity roles (worker, reconciler, KEDA,
// Karpenter), logs and metrics in CloudWatch with a dashboard and alarms (observability.ts), and the
// product's own Kubernetes objects: the cdk8s charts that also write keda/ and
// karpenter/, applied after the Helm releases whose CRDs they use.
import { KubectlV36Layer } from '@aws-cdk/lambda-layer-kubectl-v36';
import { CfnOutput, Duration, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cdk8s from 'cdk8s';
import { Construct } from 'constructs';
import { DEFAULT_POOL, JobsConfig, TABLE, VERSIONS } from '../config';
import { JobsChart } from '../k8s/jobs-chart';
import { KarpenterChart } from '../k8s/karpenter-chart';
import { SQS_MANAGED_SSE, suppress } from './checkov';
import { DataStack, poolId } from './data-stack';
import { JobsObservability } from './observability';
import { podIdentityRole } from './pod-identity';

export interface ClusterStackProps extends StackProps {
  readonly data: DataStack;
}

export class ClusterStack extends Stack {
  readonly cluster: eks.Cluster;
  /** Each lane's worker role (its queues only), by lane name (a pool, a command kind);
   * `workerRole` is the default pool's. */
  readonly workerRoles: ReadonlyMap<string, iam.Role>;
  readonly workerRole: iam.Role;
  readonly reconcilerRole: iam.Role;
  readonly kedaRole: iam.Role;
  readonly karpenterRole: iam.Role;
  readonly nodeRole: iam.Role;
  readonly interruptionQueue: sqs.Queue;
  /** The applied charts: keda/ (namespace, service accounts, TriggerAuthentication, a ScaledJob
   * per pool, reconciler CronJob) and karpenter/ (a NodePool per capacity type, EC2NodeClass). */
  readonly jobsManifest?: eks.KubernetesManifest;
  readonly karpenterManifest?: eks.KubernetesManifest;
  /** Logs to CloudWatch (Fluent Bit), the worker's metrics, the dashboard and the alarms. */
  readonly observability: JobsObservability;
  private azs: string[] = [];

  /** The configured AZs, so synth needs no AWS lookup (and no credentials). */
  override get availabilityZones(): string[] {
    return this.azs;
  }

  constructor(scope: Construct, id: string, cfg: JobsConfig, props: ClusterStackProps) {
    super(scope, id, props);
    this.azs = cfg.availabilityZones;
    const { data } = props;
    const discovery = { key: 'karpenter.sh/discovery', value: cfg.clusterName };

    const vpc = new ec2.Vpc(this, 'Vpc', {
      availabilityZones: cfg.availabilityZones,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'nodes', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 19 },
      ],
    });
    for (const subnet of vpc.privateSubnets) Tags.of(subnet).add(discovery.key, discovery.value);

    // A small on-demand node group runs the system pods (CoreDNS, KEDA, Karpenter); Karpenter
    // brings spot nodes for jobs (karpenter/ NodePool).
    this.cluster = new eks.Cluster(this, 'Cluster', {
      clusterName: cfg.clusterName,
      version: eks.KubernetesVersion.V1_36,
      vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 2,
      defaultCapacityInstance: new ec2.InstanceType(cfg.workerArchitecture === 'arm64' ? 'm7g.large' : 'm7i.large'),
      kubectlProviderOptions: { kubectlLayer: new KubectlV36Layer(this, 'Kubectl') },
      secretsEncryptionKey: new kms.Key(this, 'SecretsKey', { enableKeyRotation: true, description: `${cfg.clusterName} EKS secrets` }),
      clusterLogging: [eks.ClusterLoggingTypes.API, eks.ClusterLoggingTypes.AUDIT, eks.ClusterLoggingTypes.AUTHENTICATOR],
    });
    // The kubectl provider's functions are CDK-internal custom-resource handlers.
    for (const child of this.node.findAll()) {
      if (child instanceof lambda.CfnFunction && child.node.path.includes('KubectlProvider')) {
        suppress(child, {
          CKV_AWS_116: 'CDK kubectl custom-resource handler, invoked synchronously by CloudFormation.',
          CKV_AWS_115: 'CDK kubectl custom-resource handler, runs only during deployments.',
          CKV_AWS_117: 'CDK kubectl custom-resource handler, configured by the aws-eks-v2 module.',
          CKV_AWS_173: 'CDK kubectl custom-resource handler; its environment holds no secrets.',
        });
      }
    }
    const podIdentityAgent = new eks.Addon(this, 'PodIdentityAgent', {
      cluster: this.cluster,
      addonName: 'eks-pod-identity-agent',
    });

    // Security group for Karpenter's nodes, found by the EC2NodeClass through the discovery tag.
    const nodeSg = new ec2.SecurityGroup(this, 'KarpenterNodeSecurityGroup', {
      vpc,
      description: 'Karpenter-launched job nodes',
      allowAllOutbound: true,
    });
    Tags.of(nodeSg).add(discovery.key, discovery.value);
    const clusterSg = ec2.SecurityGroup.fromSecurityGroupId(this, 'ClusterSg', this.cluster.clusterSecurityGroupId);
    nodeSg.addIngressRule(nodeSg, ec2.Port.allTraffic(), 'node to node');
    nodeSg.addIngressRule(clusterSg, ec2.Port.allTraffic(), 'control plane and system nodes to job nodes');
    clusterSg.addIngressRule(nodeSg, ec2.Port.allTraffic(), 'job nodes to control plane and system nodes');

    // ---- Workers: one role per pool, exactly what the data-processor calls, on that pool's
    // queues and the table only.
    this.workerRoles = new Map(cfg.laneList.map((pool) => {
      const queues = data.pools.get(pool.name)!;
      const id = poolId(pool.name);
      const what = pool.command ? `command kind ${pool.name} (pool ${pool.pool})` : `pool ${pool.name}`;
      const role = podIdentityRole(this, `${id}WorkerRole`, `data-processor jobs of ${what} (Pod Identity)`, cfg.clusterName);
      role.addToPolicy(new iam.PolicyStatement({
        sid: 'TakeJobs',
        // SendMessage: a message is handed back as a fresh copy (a new receive count).
        actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage'],
        resources: [queues.high.queueArn, queues.normal.queueArn],
      }));
      role.addToPolicy(new iam.PolicyStatement({
        sid: 'DeadLetter',
        actions: ['sqs:SendMessage'],
        resources: [queues.dlq.queueArn],
      }));
      role.addToPolicy(new iam.PolicyStatement({
        sid: 'JobTable',
        // Job items, counters, throughput buckets and schedule locks (overlap: forbid), each
        // through one of these, alone or in a transaction.
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
        resources: [data.table.tableArn],
      }));
      role.addToPolicy(new iam.PolicyStatement({
        sid: 'Tenancy',
        // After a job of a limited tenant ends: the tenant's next waiting job (docs/tenants.md).
        actions: ['dynamodb:Query'],
        resources: [`${data.table.tableArn}/index/${TABLE.tenancyIndex.name}`],
      }));
      return [pool.name, role] as [string, iam.Role];
    }));
    this.workerRole = this.workerRoles.get(DEFAULT_POOL)!;
    const allQueues = [...data.pools.values()];

    // ---- Reconciler: drains every pool's dead-letter queue, re-sends overdue jobs' messages to
    // their own queues.
    this.reconcilerRole = podIdentityRole(this, 'ReconcilerRole', 'jobs reconciler CronJob (Pod Identity)', cfg.clusterName);
    this.reconcilerRole.addToPolicy(new iam.PolicyStatement({
      sid: 'DrainDeadLetters',
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
      // A command kind's lane shares its pool's DLQ.
      resources: [...new Set(allQueues.map((q) => q.dlq.queueArn))],
    }));
    this.reconcilerRole.addToPolicy(new iam.PolicyStatement({
      sid: 'SendJobs',
      // GetQueueAttributes: an overdue job waits behind its queue's backlog instead of being sent twice.
      actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
      resources: allQueues.flatMap((q) => [q.high.queueArn, q.normal.queueArn]),
    }));
    this.reconcilerRole.addToPolicy(new iam.PolicyStatement({
      sid: 'JobTable',
      // Job items, counters, throughput buckets and schedule locks (overlap: forbid), each
      // through one of these, alone or in a transaction.
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resources: [data.table.tableArn],
    }));
    this.reconcilerRole.addToPolicy(new iam.PolicyStatement({
      sid: 'DueIndex',
      actions: ['dynamodb:Query'],
      // The tenancy index: slots to free and waiting jobs to admit (docs/tenants.md).
      resources: [TABLE.dueIndex.name, TABLE.tenancyIndex.name].map((name) => `${data.table.tableArn}/index/${name}`),
    }));

    // ---- KEDA: reads the queue depth, nothing else.
    this.kedaRole = podIdentityRole(this, 'KedaRole', 'KEDA operator: SQS queue depth (Pod Identity)', cfg.clusterName);
    this.kedaRole.addToPolicy(new iam.PolicyStatement({
      sid: 'QueueDepth',
      actions: ['sqs:GetQueueAttributes'],
      resources: allQueues.flatMap((q) => [q.high.queueArn, q.normal.queueArn]),
    }));

    // ---- Karpenter: node role, interruption queue + rules, controller role.
    this.nodeRole = new iam.Role(this, 'KarpenterNodeRole', {
      roleName: cfg.karpenterNodeRoleName,
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      managedPolicies: ['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryPullOnly', 'AmazonSSMManagedInstanceCore']
        .map((n) => iam.ManagedPolicy.fromAwsManagedPolicyName(n)),
    });
    new eks.AccessEntry(this, 'KarpenterNodeAccess', {
      cluster: this.cluster,
      principal: this.nodeRole.roleArn,
      accessEntryType: eks.AccessEntryType.EC2_LINUX,
      accessPolicies: [],
    });

    this.interruptionQueue = new sqs.Queue(this, 'KarpenterInterruptionQueue', {
      queueName: cfg.karpenterInterruptionQueueName,
      retentionPeriod: Duration.minutes(5),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    suppress(this.interruptionQueue, { CKV_AWS_27: SQS_MANAGED_SSE });
    const interruptionEvents: Array<[string, events.EventPattern]> = [
      ['ScheduledChange', { source: ['aws.health'], detailType: ['AWS Health Event'] }],
      ['SpotInterruption', { source: ['aws.ec2'], detailType: ['EC2 Spot Instance Interruption Warning'] }],
      ['Rebalance', { source: ['aws.ec2'], detailType: ['EC2 Instance Rebalance Recommendation'] }],
      ['InstanceStateChange', { source: ['aws.ec2'], detailType: ['EC2 Instance State-change Notification'] }],
    ];
    for (const [name, eventPattern] of interruptionEvents) {
      new events.Rule(this, `Karpenter${name}Rule`, {
        eventPattern,
        targets: [new targets.SqsQueue(this.interruptionQueue)],
      });
    }

    this.karpenterRole = podIdentityRole(this, 'KarpenterControllerRole', 'Karpenter controller (Pod Identity)', cfg.clusterName);
    this.addKarpenterControllerPolicy(cfg);

    // ---- Pod Identity associations: namespace/service account -> role. No static keys anywhere.
    const associations: Array<[string, string, string, iam.Role]> = [
      ...cfg.laneList.map((pool) => [`${poolId(pool.name)}Worker`, cfg.namespace, pool.serviceAccount, this.workerRoles.get(pool.name)!] as [string, string, string, iam.Role]),
      ['Reconciler', cfg.namespace, cfg.reconcilerServiceAccount, this.reconcilerRole],
      ['Keda', cfg.kedaNamespace, cfg.kedaServiceAccount, this.kedaRole],
      ['Karpenter', cfg.karpenterNamespace, cfg.karpenterServiceAccount, this.karpenterRole],
    ];
    const podIdentities = associations.map(([name, namespace, serviceAccount, role]) => {
      const assoc = new eks.CfnPodIdentityAssociation(this, `${name}PodIdentity`, {
        clusterName: this.cluster.clusterName,
        namespace,
        serviceAccount,
        roleArn: role.roleArn,
      });
      assoc.node.addDependency(podIdentityAgent);
      return assoc;
    });

    // ---- Helm releases (pinned).
    // `wait`: the release is ready (CRDs established, operator and webhooks running) before the
    // charts below are applied.
    const keda = this.cluster.addHelmChart('Keda', {
      repository: 'https://kedacore.github.io/charts',
      chart: 'keda',
      version: VERSIONS.keda,
      release: 'keda',
      namespace: cfg.kedaNamespace,
      createNamespace: true,
      wait: true,
      timeout: Duration.minutes(10),
      values: {
        serviceAccount: { operator: { create: true, name: cfg.kedaServiceAccount } },
      },
    });
    keda.node.addDependency(podIdentityAgent);
    const karpenter = this.cluster.addHelmChart('Karpenter', {
      repository: 'oci://public.ecr.aws/karpenter/karpenter',
      chart: 'karpenter',
      version: VERSIONS.karpenter,
      release: 'karpenter',
      namespace: cfg.karpenterNamespace,
      wait: true,
      timeout: Duration.minutes(10),
      values: {
        serviceAccount: { name: cfg.karpenterServiceAccount },
        settings: { clusterName: this.cluster.clusterName, interruptionQueue: this.interruptionQueue.queueName },
        controller: { resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } } },
      },
    });
    karpenter.node.addDependency(podIdentityAgent);

    // ---- The product's manifests: the same charts `make manifests` writes to keda/ and
    // karpenter/, with the image and tag of this deployment. Karpenter's objects need its CRDs;
    // the jobs' objects need KEDA's, a node pool to run on, and their Pod Identity associations so
    // the first pods get credentials.
    if (cfg.applyManifests ?? true) {
      const charts = new cdk8s.App();
      this.karpenterManifest = this.cluster.addCdk8sChart('KarpenterManifests', new KarpenterChart(charts, 'karpenter', cfg));
      this.karpenterManifest.node.addDependency(karpenter, this.nodeRole);
      this.jobsManifest = this.cluster.addCdk8sChart('JobsManifests', new JobsChart(charts, 'jobs', cfg));
      this.jobsManifest.node.addDependency(keda, this.karpenterManifest, ...podIdentities);
    }

    this.observability = new JobsObservability(this, 'Observability', cfg, { cluster: this.cluster, podIdentityAgent });

    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'Dashboard', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards/dashboard/${cfg.appName}`,
    });
    new CfnOutput(this, 'UpdateKubeconfig', {
      value: `aws eks update-kubeconfig --name ${cfg.clusterName} --region ${this.region}`,
    });
  }

  /** Karpenter v1's controller permissions (upstream reference policy), scoped to this cluster. */
  private addKarpenterControllerPolicy(cfg: JobsConfig): void {
    const r = this.region;
    const a = this.account;
    const clusterTag = `aws:RequestTag/kubernetes.io/cluster/${cfg.clusterName}`;
    const resourceClusterTag = `aws:ResourceTag/kubernetes.io/cluster/${cfg.clusterName}`;
    const statements = [
      new iam.PolicyStatement({
        sid: 'AllowScopedEC2InstanceAccessActions',
        actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
        resources: [`arn:aws:ec2:${r}::image/*`, `arn:aws:ec2:${r}::snapshot/*`, `arn:aws:ec2:${r}:*:security-group/*`, `arn:aws:ec2:${r}:*:subnet/*`, `arn:aws:ec2:${r}:*:capacity-reservation/*`],
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedEC2LaunchTemplateAccessActions',
        actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
        resources: [`arn:aws:ec2:${r}:*:launch-template/*`],
        conditions: { StringEquals: { [resourceClusterTag]: 'owned' }, StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedEC2InstanceActionsWithTags',
        actions: ['ec2:RunInstances', 'ec2:CreateFleet', 'ec2:CreateLaunchTemplate'],
        resources: [`arn:aws:ec2:${r}:*:fleet/*`, `arn:aws:ec2:${r}:*:instance/*`, `arn:aws:ec2:${r}:*:volume/*`, `arn:aws:ec2:${r}:*:network-interface/*`, `arn:aws:ec2:${r}:*:launch-template/*`, `arn:aws:ec2:${r}:*:spot-instances-request/*`],
        conditions: { StringEquals: { [clusterTag]: 'owned', 'aws:RequestTag/eks:eks-cluster-name': cfg.clusterName }, StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedResourceCreationTagging',
        actions: ['ec2:CreateTags'],
        resources: [`arn:aws:ec2:${r}:*:fleet/*`, `arn:aws:ec2:${r}:*:instance/*`, `arn:aws:ec2:${r}:*:volume/*`, `arn:aws:ec2:${r}:*:network-interface/*`, `arn:aws:ec2:${r}:*:launch-template/*`, `arn:aws:ec2:${r}:*:spot-instances-request/*`],
        conditions: {
          StringEquals: { [clusterTag]: 'owned', 'aws:RequestTag/eks:eks-cluster-name': cfg.clusterName, 'ec2:CreateAction': ['RunInstances', 'CreateFleet', 'CreateLaunchTemplate'] },
          StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' },
        },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedResourceTagging',
        actions: ['ec2:CreateTags'],
        resources: [`arn:aws:ec2:${r}:*:instance/*`],
        conditions: {
          StringEquals: { [resourceClusterTag]: 'owned' },
          StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
          StringEqualsIfExists: { 'aws:RequestTag/eks:eks-cluster-name': cfg.clusterName },
          'ForAllValues:StringEquals': { 'aws:TagKeys': ['eks:eks-cluster-name', 'karpenter.sh/nodeclaim', 'Name'] },
        },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedDeletion',
        actions: ['ec2:TerminateInstances', 'ec2:DeleteLaunchTemplate'],
        resources: [`arn:aws:ec2:${r}:*:instance/*`, `arn:aws:ec2:${r}:*:launch-template/*`],
        conditions: { StringEquals: { [resourceClusterTag]: 'owned' }, StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowRegionalReadActions',
        actions: ['ec2:DescribeCapacityReservations', 'ec2:DescribeImages', 'ec2:DescribeInstances', 'ec2:DescribeInstanceTypeOfferings', 'ec2:DescribeInstanceTypes', 'ec2:DescribeLaunchTemplates', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSpotPriceHistory', 'ec2:DescribeSubnets'],
        resources: ['*'], // EC2 Describe* calls have no resource-level permissions
        conditions: { StringEquals: { 'aws:RequestedRegion': r } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowSSMReadActions',
        actions: ['ssm:GetParameter'],
        resources: [`arn:aws:ssm:${r}::parameter/aws/service/*`],
      }),
      new iam.PolicyStatement({
        sid: 'AllowPricingReadActions',
        actions: ['pricing:GetProducts'],
        resources: ['*'], // the Pricing API has no resource-level permissions
      }),
      new iam.PolicyStatement({
        sid: 'AllowInterruptionQueueActions',
        actions: ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
        resources: [this.interruptionQueue.queueArn],
      }),
      new iam.PolicyStatement({
        sid: 'AllowPassingInstanceRole',
        actions: ['iam:PassRole'],
        resources: [this.nodeRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': ['ec2.amazonaws.com', 'ec2.amazonaws.com.cn'] } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedInstanceProfileActions',
        actions: ['iam:CreateInstanceProfile', 'iam:TagInstanceProfile', 'iam:AddRoleToInstanceProfile', 'iam:RemoveRoleFromInstanceProfile', 'iam:DeleteInstanceProfile'],
        resources: [`arn:aws:iam::${a}:instance-profile/*`],
        conditions: { StringEquals: { [resourceClusterTag]: 'owned', 'aws:ResourceTag/topology.kubernetes.io/region': r }, StringLike: { 'aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass': '*' } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedInstanceProfileCreation',
        actions: ['iam:CreateInstanceProfile', 'iam:TagInstanceProfile'],
        resources: [`arn:aws:iam::${a}:instance-profile/*`],
        conditions: { StringEquals: { [clusterTag]: 'owned', 'aws:RequestTag/eks:eks-cluster-name': cfg.clusterName, 'aws:RequestTag/topology.kubernetes.io/region': r }, StringLike: { 'aws:RequestTag/karpenter.k8s.aws/ec2nodeclass': '*' } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowInstanceProfileReadActions',
        actions: ['iam:GetInstanceProfile', 'iam:ListInstanceProfiles'],
        resources: [`arn:aws:iam::${a}:instance-profile/*`],
      }),
      new iam.PolicyStatement({
        sid: 'AllowAPIServerEndpointDiscovery',
        actions: ['eks:DescribeCluster'],
        resources: [this.cluster.clusterArn],
      }),
    ];
    for (const s of statements) this.karpenterRole.addToPolicy(s);
  }
}
