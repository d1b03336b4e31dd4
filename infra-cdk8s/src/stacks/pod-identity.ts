// The IAM role EKS Pod Identity hands to one Kubernetes service account.
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** A role that EKS Pod Identity hands to one Kubernetes service account. */
export function podIdentityRole(scope: Construct, id: string, description: string): iam.Role {
  const role = new iam.Role(scope, id, {
    description,
    assumedBy: new iam.ServicePrincipal('pods.eks.amazonaws.com'),
  });
  role.assumeRolePolicy!.addStatements(new iam.PolicyStatement({
    actions: ['sts:TagSession'],
    principals: [new iam.ServicePrincipal('pods.eks.amazonaws.com')],
  }));
  return role;
}

