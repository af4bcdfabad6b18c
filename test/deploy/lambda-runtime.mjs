// One synthesized function run as Lambda's Node.js runtime runs it (test/deploy/smoke.test.ts):
// a process of its own with the function's environment, LAMBDA_TASK_ROOT its asset directory,
// `_HANDLER` resolved the way the runtime resolves it (`index.handler` → index.js, index.mjs or
// index.cjs in the task root, export `handler`), invoked with a Lambda context, one event at a
// time, the result serialized to JSON as the runtime returns it. Events arrive over IPC.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.env.LAMBDA_TASK_ROOT;
const [file, exportName] = process.env._HANDLER.split('.');
const timeoutMs = Number(process.env.SMOKE_TIMEOUT_MS ?? 30_000);

let handler;
try {
  const path = ['.js', '.mjs', '.cjs'].map((ext) => join(root, file + ext)).find((p) => existsSync(p));
  if (!path) throw new Error(`Runtime.ImportModuleError: no ${file}.js/.mjs/.cjs in ${root}`);
  const mod = await import(pathToFileURL(path).href);
  handler = mod[exportName];
  if (typeof handler !== 'function') throw new Error(`Runtime.HandlerNotFound: ${process.env._HANDLER}`);
  // The architecture the process runs as (arm64 under qemu-user for the arm64 bundles).
  process.send({ ready: true, arch: process.arch });
} catch (err) {
  process.send({ initError: { errorType: err.name, errorMessage: err.message, stack: err.stack } });
  process.exit(1);
}

// Lambda runs one event at a time per execution environment.
let chain = Promise.resolve();
process.on('message', ({ id, event }) => {
  chain = chain.then(async () => {
    const deadline = Date.now() + timeoutMs;
    const context = {
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:123456789012:function:${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done() {},
      fail() {},
      succeed() {},
    };
    try {
      const result = await handler(event, context);
      // The runtime answers JSON.stringify(result); undefined becomes null.
      process.send({ id, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
    } catch (err) {
      process.send({ id, error: { errorType: err?.name, errorMessage: err?.message, stack: err?.stack } });
    }
  });
});
