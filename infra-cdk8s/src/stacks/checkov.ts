// Justified checkov suppressions, recorded on the CloudFormation resource itself
// (Metadata.checkov.skip), so each one sits next to the code it excuses and shows in the template.
import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

export function suppress(construct: IConstruct, checks: Record<string, string>): void {
  const cfn = construct instanceof CfnResource ? construct : (construct.node.defaultChild as CfnResource | undefined);
  if (!cfn) throw new Error(`suppress: ${construct.node.path} has no CloudFormation resource`);
  const skip = Object.entries(checks).map(([id, comment]) => ({ id, comment }));
  const existing = (cfn.getMetadata('checkov') as { skip?: unknown[] } | undefined)?.skip ?? [];
  cfn.addMetadata('checkov', { skip: [...existing, ...skip] });
}

export const SQS_MANAGED_SSE = 'Encrypted with SSE-SQS (SqsManagedSseEnabled); checkov only recognises KMS. EventBridge Scheduler cannot deliver to KMS-managed queues.';
export const LOGS_DEFAULT_ENCRYPTION = 'CloudWatch Logs encrypts log data at rest by default; the logs hold no secrets, so a CMK adds cost without benefit.';
