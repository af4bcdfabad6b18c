/**
 * A storage decorator that answers 403, at the HTTP layer: while `denied` is on, every
 * request of the wrapped S3 or DynamoDB client gets the response the service sends for a
 * missing IAM permission (S3: 403 `AccessDenied` XML; DynamoDB: 400
 * `AccessDeniedException` JSON), parsed by the real SDK and mapped by the real adapter.
 * Nothing in the SDK is mocked: only the network answer is replaced.
 */
import type { DynamoMetaStore } from '../../storage/dynamodb.js';
import type { S3ObjectStore } from '../../storage/s3.js';

type Stack = {
  add(mw: unknown, options: { step: string; priority: string; name: string }): void;
  remove(name: string): boolean;
};

function answer(statusCode: number, headers: Record<string, string>, body: string) {
  return { response: { statusCode, headers, body: new TextEncoder().encode(body) } };
}

/** Turns the 403 on for both clients; returns a function that turns it off again. */
export function denyAccess(stores: { objects: S3ObjectStore; meta: DynamoMetaStore }): () => void {
  const name = `deny-${Math.random()}`;
  const s3 = stores.objects.client.middlewareStack as unknown as Stack;
  const dynamo = stores.meta.client.middlewareStack as unknown as Stack;
  // Inside the deserializer: it parses this answer as it would the service's.
  s3.add(
    () => async () =>
      answer(
        403,
        { 'content-type': 'application/xml', 'x-amz-request-id': 'DENIED' },
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: s3:GetObject because no identity-based policy allows the s3:GetObject action</Message><RequestId>DENIED</RequestId></Error>',
      ),
    { step: 'deserialize', priority: 'low', name },
  );
  dynamo.add(
    () => async () =>
      answer(
        400,
        { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'DENIED' },
        JSON.stringify({
          __type: 'com.amazon.coral.service#AccessDeniedException',
          Message:
            'User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/t',
        }),
      ),
    { step: 'deserialize', priority: 'low', name },
  );
  return () => {
    s3.remove(name);
    dynamo.remove(name);
  };
}
