// karpenter/: the EC2NodeClass of the job nodes and one NodePool per capacity type the pools use
// (spot, on-demand), each reserved for job pods by a taint.
import { ApiObject, Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import {
  Ec2NodeClass,
  Ec2NodeClassSpecMetadataOptionsHttpEndpoint,
  Ec2NodeClassSpecMetadataOptionsHttpTokens,
} from '../../imports/karpenter-ec2nodeclass-karpenter.k8s.aws';
import {
  NodePool,
  NodePoolSpecDisruptionConsolidationPolicy,
  NodePoolSpecLimits,
  NodePoolSpecTemplateSpecRequirementsOperator as Op,
  NodePoolSpecTemplateSpecTaintsEffect,
} from '../../imports/karpenter-nodepool-karpenter.sh';
import { Capacity, JobsConfig, nodePoolOf } from '../config';

export class KarpenterChart extends Chart {
  /** Each object with the file it is written to (karpenter/<file>.yaml). */
  readonly files: Array<[string, ApiObject]>;

  constructor(scope: Construct, id: string, cfg: JobsConfig, props: ChartProps = {}) {
    super(scope, id, { ...props, disableResourceNameHashes: true });
    const labels = { 'app.kubernetes.io/part-of': cfg.appName };
    const discovery = { 'karpenter.sh/discovery': cfg.clusterName };

    const nodeClass = new Ec2NodeClass(this, 'node-class', {
      metadata: { name: cfg.nodeClassName, labels },
      spec: {
        // Bottlerocket: minimal, immutable container OS. Pin a release (bottlerocket@v1.x.y) to
        // control AMI roll-outs; @latest follows the newest release Karpenter resolves.
        amiSelectorTerms: [{ alias: 'bottlerocket@latest' }],
        role: cfg.karpenterNodeRoleName,
        subnetSelectorTerms: [{ tags: discovery }],
        securityGroupSelectorTerms: [{ tags: discovery }],
        // IMDSv2 only and unreachable from pods (hop limit 1): pods get credentials from Pod Identity.
        metadataOptions: {
          httpEndpoint: Ec2NodeClassSpecMetadataOptionsHttpEndpoint.ENABLED,
          httpTokens: Ec2NodeClassSpecMetadataOptionsHttpTokens.REQUIRED,
          httpPutResponseHopLimit: 1,
        },
        tags: { ...discovery, 'app.kubernetes.io/part-of': cfg.appName },
      },
    });

    const capacities = [...new Set(cfg.poolList.map((p) => p.capacity))].sort();
    const nodePools = capacities.map((capacity) => {
      // Expiry drains a node only when its jobs are done: the longest deadline of the pools on
      // it bounds how long a draining node may wait for them before it is forced down.
      const longest = Math.max(...cfg.poolList.filter((p) => p.capacity === capacity).map((p) => p.activeDeadlineSecs));
      return [`nodepool-${capacity}`, this.nodePool(cfg, capacity, longest, labels)] as [string, ApiObject];
    });
    this.files = [['ec2nodeclass', nodeClass], ...nodePools];
  }

  private nodePool(cfg: JobsConfig, capacity: Capacity, longestDeadlineSecs: number, labels: Record<string, string>): NodePool {
    return new NodePool(this, `node-pool-${capacity}`, {
      metadata: { name: nodePoolOf(capacity), labels },
      spec: {
        template: {
          metadata: { labels: { [cfg.nodeLabelKey]: cfg.nodeLabelValue } },
          spec: {
            nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: cfg.nodeClassName },
            // Only job pods (which tolerate this taint) land here.
            taints: [{ key: cfg.nodeLabelKey, value: cfg.nodeLabelValue, effect: NodePoolSpecTemplateSpecTaintsEffect.NO_SCHEDULE }],
            requirements: [
              { key: 'karpenter.sh/capacity-type', operator: Op.IN, values: [capacity] },
              { key: 'kubernetes.io/arch', operator: Op.IN, values: [cfg.workerArchitecture] },
              { key: 'kubernetes.io/os', operator: Op.IN, values: ['linux'] },
              // Many families and sizes keep spot capacity available and interruptions rare.
              { key: 'karpenter.k8s.aws/instance-category', operator: Op.IN, values: ['c', 'm', 'r'] },
              { key: 'karpenter.k8s.aws/instance-generation', operator: Op.GT, values: ['5'] },
              { key: 'karpenter.k8s.aws/instance-size', operator: Op.NOT_IN, values: ['nano', 'micro', 'small', 'metal'] },
              { key: 'karpenter.k8s.aws/instance-family', operator: Op.EXISTS, minValues: 5 },
            ],
            // Nodes are replaced weekly; running jobs are protected by karpenter.sh/do-not-disrupt
            // for up to terminationGracePeriod (Karpenter v1 sets no bound without it).
            expireAfter: '168h',
            terminationGracePeriod: `${longestDeadlineSecs}s`,
          },
        },
        disruption: {
          consolidationPolicy: NodePoolSpecDisruptionConsolidationPolicy.WHEN_EMPTY,
          consolidateAfter: '60s',
          // At most a tenth of the nodes drain at once (expiry, drift).
          budgets: [{ nodes: '10%' }],
        },
        limits: {
          cpu: NodePoolSpecLimits.fromString('200'),
          memory: NodePoolSpecLimits.fromString('400Gi'),
        },
      },
    });
  }
}
