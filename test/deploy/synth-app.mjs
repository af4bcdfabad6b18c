// The app the deploy smoke test synthesizes (test/deploy/smoke.test.ts), in plain Node as a
// CDK user runs it: the compiled construct (dist/lib), so every function gets its prebuilt
// bundle (dist/handlers) plus the native packages npm installs for Lambda's platform.
// Usage: node synth-app.mjs <repo root> <outdir> <x86_64|arm64|kinesis>...
// `kinesis` is an x86_64 stack whose acks=1 inbox is a Kinesis stream (inboxBackend 'kinesis').

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [root, outdir, ...stacks] = process.argv.slice(2);
const { App, Stack } = await import(pathToFileURL(join(root, 'node_modules/aws-cdk-lib/index.js')).href);
const lambda = await import(pathToFileURL(join(root, 'node_modules/aws-cdk-lib/aws-lambda/index.js')).href);
const { SluiceCluster } = await import(pathToFileURL(join(root, 'dist/lib/index.js')).href);

const app = new App({ outdir });
for (const kind of stacks) {
  if (kind === 'kinesis') {
    // Only what differs from SmokeX64: the inbox, its batcher and the functions naming it.
    const stack = new Stack(app, 'SmokeKinesis');
    new SluiceCluster(stack, 'Cluster', {
      architecture: lambda.Architecture.X86_64,
      inboxBackend: 'kinesis',
      inboxShards: 2,
      dashboard: false,
      alarms: false,
    });
    continue;
  }
  const arch = kind;
  const stack = new Stack(app, arch === 'arm64' ? 'SmokeArm64' : 'SmokeX64');
  const cluster = new SluiceCluster(stack, 'Cluster', {
    architecture: arch === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
    // Declared topics, so the stack has the topics custom resource (and its function).
    topics: [{ name: 'smoke-declared', partitions: 2, config: { 'cleanup.policy': 'compact' } }],
  });
  // A subscription, so the stack has the subscriptions trigger (and its provider).
  const target = new lambda.Function(stack, 'Target', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({});'),
  });
  cluster.addSubscription('Audit', { topic: 'smoke-subscribed', target, batchSize: 10 });
}
app.synth();
