// The IAM role EKS Pod Identity hands to one Kubernetes service account.
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** A role that EKS Pod Identity hands to one Kubernetes service account of cluster
 * `clusterName`. The trust policy names this account and that cluster (`aws:SourceAccount`,
 * `aws:SourceArn`), so the Pod Identity service assumes it for no other cluster (the confused
 * deputy). */
export function podIdentityRole(scope: Construct, id: string, description: string, clusterName: string): iam.Role {
  const stack = Stack.of(scope);
  const conditions = {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnEquals: { 'aws:SourceArn': stack.formatArn({ service: 'eks', resource: 'cluster', resourceName: clusterName }) },
  };
  const principal = new iam.ServicePrincipal('pods.eks.amazonaws.com');
  const role = new iam.Role(scope, id, { description, assumedBy: principal.withConditions(conditions) });
  role.assumeRolePolicy!.addStatements(new iam.PolicyStatement({
    actions: ['sts:TagSession'],
    principals: [principal],
    conditions,
  }));
  return role;
}
