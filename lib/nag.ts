/**
 * Acknowledging cdk-nag findings (AwsSolutions, Serverless packs) where they arise, each
 * with its reason. cdk-nag v3 reads CDK's own `Validations.of(scope).acknowledge()`, which
 * covers the scope and everything below it.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Records that `rule` (e.g. `AwsSolutions-L1`, `AwsSolutions-IAM5[Resource::…]`) is accepted under `scope`. */
export function acknowledge(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: rule, reason });
}

/**
 * The id cdk-nag gives an IAM5 (wildcard) finding for a resource ARN, e.g.
 * `AwsSolutions-IAM5[Resource::<DataBucket1234.Arn>/data/*]`: the ARN resolved, then
 * flattened the way cdk-nag flattens CloudFormation references.
 */
export function wildcardResourceFinding(scope: IConstruct, arn: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(arn))}]`;
}

/** The id of an IAM5 finding for a wildcard action, e.g. `kms:GenerateDataKey*`. */
export function wildcardActionFinding(action: string): string {
  return `AwsSolutions-IAM5[Action::${action}]`;
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  const n = node as Record<string, unknown>;
  if (Array.isArray(n['Fn::Join'])) {
    const [delimiter, items] = n['Fn::Join'] as [string, unknown[]];
    return items.map(flatten).join(delimiter);
  }
  if ('Fn::Sub' in n) return flatten(n['Fn::Sub']);
  if (Array.isArray(n['Fn::GetAtt'])) {
    const [resource, attribute] = n['Fn::GetAtt'] as [unknown, unknown];
    return `<${flatten(resource)}.${flatten(attribute)}>`;
  }
  if ('Fn::ImportValue' in n) return flatten(n['Fn::ImportValue']);
  if ('Ref' in n) return `<${flatten(n.Ref)}>`;
  return JSON.stringify(node);
}
