/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy` from the repository root (cdk.json runs
 * this file with tsx). Options come as context, e.g. `npx cdk deploy -c architecture=x86_64`;
 * lib/app-context.ts lists them.
 *
 * Every synth runs cdk-nag's AwsSolutions and Serverless packs; a finding that is not
 * acknowledged with a reason fails it.
 */
import { App, Validations } from 'aws-cdk-lib';
import nag from 'cdk-nag';
import { stackOptionsFromContext } from '../lib/app-context.js';
import { SluiceStack } from '../lib/sluice-stack.js';

const app = new App();
const { stackName, props } = stackOptionsFromContext((key) => app.node.tryGetContext(key));
new SluiceStack(app, stackName, props);
Validations.of(app).addPlugins(
  new nag.AwsSolutionsChecks(app, { verbose: true }),
  new nag.ServerlessChecks(app, { verbose: true }),
);
