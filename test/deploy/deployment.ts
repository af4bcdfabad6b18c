/**
 * A synthesized Sluice stack "deployed" onto moto for the deploy smoke test: the bucket,
 * tables, queues, Kinesis streams and SSM parameters its template declares are created in
 * moto (same key schema, stream and TTL; same shard count), and each Lambda function of the template is started as Lambda
 * starts it (`lambda-runtime.mjs`: its asset directory, `index.handler`, the runtime's Node) with the
 * environment variables of its template, every `Ref`/`Fn::GetAtt`/`Fn::Join` resolved
 * against the moto resources. A reference the resolver does not know fails the test: the
 * template changed in a way this deployment has to learn.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AttributeDefinition,
  CreateTableCommand,
  DynamoDBClient,
  type KeySchemaElement,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  waitUntilStreamExists,
} from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { createKinesisClient } from '../../storage/kinesis.js';

export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
const RUNTIME = new URL('./lambda-runtime.mjs', import.meta.url).pathname;

type Cfn = unknown;
interface Resource {
  Type: string;
  Properties?: Record<string, Cfn>;
}
export interface Template {
  Resources: Record<string, Resource>;
}

/** What a logical id resolves to: its `Ref` and its `Fn::GetAtt` attributes. */
interface Physical {
  ref: string;
  attrs: Record<string, string>;
}

export interface SmokeFunction {
  logicalId: string;
  assetDir: string;
  handler: string;
  runtime: string;
  architecture: string;
  memorySize: number;
  /** Seconds (the template's `Timeout`): what `getRemainingTimeInMillis` counts down from. */
  timeout: number;
  environment: Record<string, string>;
}

export class UnresolvedReferenceError extends Error {
  override name = 'UnresolvedReferenceError';
}

export interface DeploymentOptions {
  /** The cdk.out directory. */
  outdir: string;
  stackName: string;
  endpoint: string;
  /** What `Fn::GetAtt [<url>, FunctionUrl]` resolves to: the local Function URL front. */
  functionUrl: string;
  /** The Node binary the functions run on (Lambda's runtime version). */
  node: string;
  /** Extra environment of every function (e.g. AWS_ENDPOINT_URL_LAMBDA). */
  extraEnv?: Record<string, string>;
  /** Start only the functions whose logical id starts with one of these (default: every one). */
  only?: string[];
}

const clientConfig = (endpoint: string) => ({
  endpoint,
  region: REGION,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

/** Resolves a CloudFormation value to a string, with `physical` for logical ids. */
export function resolveValue(value: Cfn, physical: Map<string, Physical>, stackId: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const [[fn, arg]] = Object.entries(value) as [[string, Cfn]];
    const r = (v: Cfn) => resolveValue(v, physical, stackId);
    switch (fn) {
      case 'Ref': {
        const pseudo: Record<string, string> = {
          'AWS::StackId': stackId,
          'AWS::Region': REGION,
          'AWS::AccountId': ACCOUNT,
          'AWS::Partition': 'aws',
          'AWS::URLSuffix': 'amazonaws.com',
        };
        const name = arg as string;
        const hit = pseudo[name] ?? physical.get(name)?.ref;
        if (hit === undefined) throw new UnresolvedReferenceError(`Ref ${name}`);
        return hit;
      }
      case 'Fn::GetAtt': {
        const [id, attr] = arg as [string, string];
        const hit = physical.get(id)?.attrs[attr];
        if (hit === undefined) throw new UnresolvedReferenceError(`Fn::GetAtt ${id}.${attr}`);
        return hit;
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, Cfn[]];
        return parts.map(r).join(sep);
      }
      case 'Fn::Split': {
        const [sep, source] = arg as [string, Cfn];
        return JSON.stringify(r(source).split(sep));
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number, Cfn];
        const items = JSON.parse(r(list)) as string[];
        return items[Number(index)]!;
      }
      default:
        throw new UnresolvedReferenceError(`${fn} is not supported by the smoke deployment`);
    }
  }
  throw new UnresolvedReferenceError(`cannot resolve ${JSON.stringify(value)}`);
}

/** The functions of a template, with their asset directories (the `.zip` key names the asset). */
export function templateFunctions(template: Template, outdir: string): Omit<SmokeFunction, 'environment'>[] {
  const out: Omit<SmokeFunction, 'environment'>[] = [];
  for (const [logicalId, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const p = r.Properties as Record<string, Cfn> & { Code: { S3Key?: string; ZipFile?: string } };
    if (!p.Code.S3Key) continue; // inline code (the test's subscription target)
    out.push({
      logicalId,
      assetDir: join(outdir, `asset.${p.Code.S3Key.replace(/\.zip$/, '')}`),
      handler: p.Handler as string,
      runtime: p.Runtime as string,
      architecture: ((p.Architectures as string[] | undefined) ?? ['x86_64'])[0]!,
      memorySize: Number(p.MemorySize ?? 128),
      timeout: Number(p.Timeout ?? 3),
    });
  }
  return out;
}

/** A function started as Lambda starts it; `invoke` sends it one event. */
export class RunningFunction {
  private next = 0;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly output: string[] = [];
  invocations = 0;
  /** `process.arch` of the running function (`x64`, or `arm64` under qemu-user). */
  arch = '';

  private constructor(
    readonly fn: SmokeFunction,
    private readonly child: ChildProcess,
  ) {
    child.on(
      'message',
      (m: { id: number; result?: unknown; error?: { errorType: string; errorMessage: string } }) => {
        const w = this.waiting.get(m.id);
        if (!w) return;
        this.waiting.delete(m.id);
        if (m.error) w.reject(new Error(`${fn.logicalId}: ${m.error.errorType}: ${m.error.errorMessage}`));
        else w.resolve(m.result);
      },
    );
    child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`${fn.logicalId} exited with ${code}`));
      this.waiting.clear();
    });
  }

  static start(fn: SmokeFunction, node: string, extraEnv: Record<string, string>): Promise<RunningFunction> {
    const name = fn.logicalId;
    const child = fork(RUNTIME, [], {
      execPath: node,
      cwd: fn.assetDir,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        // What Lambda sets (the AWS_* credentials point at moto).
        PATH: process.env.PATH,
        LANG: 'en_US.UTF-8',
        TZ: ':UTC',
        LAMBDA_TASK_ROOT: fn.assetDir,
        _HANDLER: fn.handler,
        AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
        AWS_LAMBDA_FUNCTION_NAME: name,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memorySize),
        SMOKE_TIMEOUT_MS: String(fn.timeout * 1000),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
        AWS_LAMBDA_LOG_STREAM_NAME: `2026/12/07/[$LATEST]${randomBytes(16).toString('hex')}`,
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_SESSION_TOKEN: 'test',
        ...extraEnv,
        ...fn.environment,
      },
    });
    const running = new RunningFunction(fn, child);
    const keep = (chunk: Buffer) => {
      running.output.push(chunk.toString());
      if (running.output.length > 400) running.output.splice(0, 100);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return new Promise((resolve, reject) => {
      child.once('message', (m: { ready?: boolean; arch?: string; initError?: { errorMessage: string } }) => {
        running.arch = m.arch ?? '';
        if (m.ready) resolve(running);
        else
          reject(
            new Error(
              `${name} failed to initialize: ${m.initError?.errorMessage}\n${running.output.join('')}`,
            ),
          );
      });
      child.once('exit', (code) =>
        reject(new Error(`${name} exited with ${code}\n${running.output.join('')}`)),
      );
    });
  }

  invoke(event: unknown): Promise<unknown> {
    const id = this.next++;
    this.invocations += 1;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ id, event });
    });
  }

  stop(): void {
    this.child.kill();
  }
}

/** The stack's resources created in moto, its functions running. */
export class Deployment {
  readonly functions = new Map<string, RunningFunction>();
  readonly queues = new Map<string, { url: string; arn: string }>();
  /** Kinesis streams by logical id. */
  readonly streams = new Map<string, { name: string; arn: string }>();
  tableName = '';
  bucketName = '';
  private readonly physical = new Map<string, Physical>();
  readonly stackId: string;

  private constructor(
    readonly template: Template,
    readonly stackName: string,
  ) {
    this.stackId = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${stackName}/${randomBytes(16).toString('hex')}`;
  }

  /** A template value resolved against this deployment (e.g. a custom resource's properties). */
  resolve(value: unknown): string {
    return resolveValue(value, this.physical, this.stackId);
  }

  static async create(options: DeploymentOptions): Promise<Deployment> {
    const template = JSON.parse(
      readFileSync(join(options.outdir, `${options.stackName}.template.json`), 'utf8'),
    ) as Template;
    const d = new Deployment(template, options.stackName);
    const suffix = randomBytes(4).toString('hex');
    const { stackId, physical } = d;
    const s3 = new S3Client({ ...clientConfig(options.endpoint), forcePathStyle: true });
    const ddb = new DynamoDBClient(clientConfig(options.endpoint));
    const sqs = new SQSClient(clientConfig(options.endpoint));
    const ssm = new SSMClient(clientConfig(options.endpoint));
    // HTTP/1.1, as moto speaks (the Kinesis client's default is HTTP/2).
    const kinesis = await createKinesisClient(clientConfig(options.endpoint));
    const lambdaArn = (id: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;

    // Resources the functions' environments may name, in dependency order: data, queues, URLs.
    for (const [id, r] of Object.entries(template.Resources)) {
      const p = r.Properties ?? {};
      switch (r.Type) {
        case 'AWS::S3::Bucket': {
          const name = `smoke-${id.toLowerCase().slice(0, 40)}-${suffix}`;
          await s3.send(new CreateBucketCommand({ Bucket: name }));
          physical.set(id, { ref: name, attrs: { Arn: `arn:aws:s3:::${name}` } });
          d.bucketName = name;
          break;
        }
        case 'AWS::DynamoDB::Table': {
          const name = `smoke-${id}-${suffix}`;
          const stream = p.StreamSpecification as { StreamViewType: string } | undefined;
          const out = await ddb.send(
            new CreateTableCommand({
              TableName: name,
              KeySchema: p.KeySchema as KeySchemaElement[],
              AttributeDefinitions: p.AttributeDefinitions as AttributeDefinition[],
              BillingMode: (p.BillingMode as 'PAY_PER_REQUEST') ?? 'PAY_PER_REQUEST',
              ...(stream
                ? {
                    StreamSpecification: {
                      StreamEnabled: true,
                      StreamViewType: stream.StreamViewType as 'KEYS_ONLY',
                    },
                  }
                : {}),
            }),
          );
          const ttl = p.TimeToLiveSpecification as { AttributeName: string; Enabled: boolean } | undefined;
          if (ttl?.Enabled) {
            await ddb.send(
              new UpdateTimeToLiveCommand({
                TableName: name,
                TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
              }),
            );
          }
          physical.set(id, {
            ref: name,
            attrs: {
              Arn: out.TableDescription!.TableArn!,
              StreamArn: out.TableDescription!.LatestStreamArn ?? '',
            },
          });
          d.tableName = name;
          break;
        }
        case 'AWS::SQS::Queue': {
          const name = `smoke-${id.slice(0, 50)}-${suffix}`;
          const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
          const attrs = await sqs.send(
            new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
          );
          const arn = attrs.Attributes!.QueueArn!;
          physical.set(id, { ref: QueueUrl!, attrs: { Arn: arn, QueueName: name, QueueUrl: QueueUrl! } });
          d.queues.set(id, { url: QueueUrl!, arn });
          break;
        }
        case 'AWS::Kinesis::Stream': {
          const name = `smoke-${id.slice(0, 60)}-${suffix}`;
          const mode = (p.StreamModeDetails as { StreamMode: 'PROVISIONED' | 'ON_DEMAND' } | undefined)
            ?.StreamMode;
          await kinesis.send(
            new CreateStreamCommand({
              StreamName: name,
              ...(p.ShardCount !== undefined ? { ShardCount: Number(p.ShardCount) } : {}),
              ...(mode ? { StreamModeDetails: { StreamMode: mode } } : {}),
            }),
          );
          await waitUntilStreamExists(
            { client: kinesis, minDelay: 1, maxWaitTime: 30 },
            { StreamName: name },
          );
          const { StreamDescriptionSummary: summary } = await kinesis.send(
            new DescribeStreamSummaryCommand({ StreamName: name }),
          );
          const arn = summary!.StreamARN!;
          physical.set(id, { ref: name, attrs: { Arn: arn } });
          d.streams.set(id, { name, arn });
          break;
        }
        case 'AWS::Lambda::Function':
          physical.set(id, { ref: id, attrs: { Arn: lambdaArn(id) } });
          break;
        case 'AWS::Lambda::Url':
          physical.set(id, { ref: id, attrs: { FunctionUrl: options.functionUrl, FunctionArn: '' } });
          break;
      }
    }
    for (const [id, r] of Object.entries(template.Resources)) {
      if (r.Type !== 'AWS::SSM::Parameter') continue;
      const p = r.Properties!;
      const name = resolveValue(p.Name, physical, stackId);
      await ssm.send(
        new PutParameterCommand({
          Name: name,
          Value: resolveValue(p.Value, physical, stackId),
          Type: 'String',
          Overwrite: true,
        }),
      );
      physical.set(id, { ref: name, attrs: {} });
    }

    const wanted = (id: string) => !options.only || options.only.some((prefix) => id.startsWith(prefix));
    const specs = templateFunctions(template, options.outdir)
      .filter((f) => wanted(f.logicalId))
      .map((f) => {
        const vars = ((
          template.Resources[f.logicalId]!.Properties!.Environment as { Variables?: Record<string, Cfn> }
        )?.Variables ?? {}) as Record<string, Cfn>;
        const environment: Record<string, string> = {};
        for (const [k, v] of Object.entries(vars)) environment[k] = resolveValue(v, physical, stackId);
        return { ...f, environment };
      });
    try {
      // Started one after another: the machine running CI is small.
      for (const spec of specs) {
        d.functions.set(
          spec.logicalId,
          await RunningFunction.start(spec, options.node, {
            AWS_ENDPOINT_URL: options.endpoint,
            ...options.extraEnv,
          }),
        );
      }
    } catch (err) {
      d.stop();
      throw err;
    }
    return d;
  }

  /** The running function whose logical id starts with `prefix` (e.g. `ClusterProduceFunction`). */
  fn(prefix: string): RunningFunction {
    const hits = [...this.functions.values()].filter((f) => f.fn.logicalId.startsWith(prefix));
    if (hits.length !== 1) throw new Error(`${hits.length} functions match ${prefix}`);
    return hits[0]!;
  }

  /** The Kinesis stream whose logical id is `prefix` and its hash. */
  stream(prefix: string): { name: string; arn: string } {
    const hit = [...this.streams.entries()].find(([id]) => id.replace(/[0-9A-F]{8}$/, '') === prefix);
    if (!hit) throw new Error(`no stream ${prefix}`);
    return hit[1];
  }

  /** The queue whose logical id starts with `prefix`. */
  queue(prefix: string): { url: string; arn: string } {
    // A logical id is the construct path plus an 8-hex hash: `ClusterInbox` is not `ClusterInboxDeadLetters`.
    const hit = [...this.queues.entries()].find(([id]) => id.replace(/[0-9A-F]{8}$/, '') === prefix);
    if (!hit) throw new Error(`no queue ${prefix}`);
    return hit[1];
  }

  stop(): void {
    for (const f of this.functions.values()) f.stop();
  }
}
