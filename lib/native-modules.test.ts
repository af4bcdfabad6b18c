import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  installNativeCommand,
  lockedVersions,
  NativePackageVersionError,
  npmCpu,
  UnsafeShellArgumentError,
} from './native-modules.js';

function project(lock: unknown, manifest: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-native-'));
  if (lock !== undefined) writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock));
  if (manifest !== undefined) writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest));
  return dir;
}

describe('lockedVersions', () => {
  it('prefers the exact version of the lock file over the range of package.json', () => {
    const dir = project(
      { packages: { 'node_modules/snappy': { version: '7.4.3' } } },
      { dependencies: { snappy: '^7.0.0', 'lz4-napi': '^2.10.0' } },
    );
    expect(lockedVersions(dir, ['snappy', 'lz4-napi'])).toEqual({ snappy: '7.4.3', 'lz4-napi': '^2.10.0' });
  });

  it('names the package it cannot place', () => {
    const dir = project(undefined, { dependencies: {} });
    expect(() => lockedVersions(dir, ['snappy'])).toThrow(NativePackageVersionError);
    expect(() => lockedVersions(dir, ['snappy'])).toThrow(/'snappy'/);
  });
});

describe('installNativeCommand', () => {
  it('installs for Linux glibc on the function CPU, offline-first, without scripts or saving', () => {
    const cmd = installNativeCommand('/tmp/out dir', Architecture.ARM_64, {
      snappy: '7.4.3',
      '@node-rs/crc32': '1.10.8',
    });
    expect(cmd).toContain('--prefix "/tmp/out dir"');
    expect(cmd).toContain('--os=linux --cpu=arm64 --libc=glibc');
    for (const flag of [
      '--no-save',
      '--no-package-lock',
      '--prefer-offline',
      '--ignore-scripts',
      '--omit=dev',
    ]) {
      expect(cmd).toContain(flag);
    }
    expect(cmd).toMatch(/"snappy@7\.4\.3" "@node-rs\/crc32@1\.10\.8"$/);
    expect(installNativeCommand('/o', Architecture.X86_64, { snappy: '1' })).toContain('--cpu=x64');
    expect([npmCpu(Architecture.ARM_64), npmCpu(Architecture.X86_64)]).toEqual(['arm64', 'x64']);
  });

  it('refuses a path the shell would expand', () => {
    expect(() => installNativeCommand('/tmp/$(rm -rf ~)', Architecture.ARM_64, {})).toThrow(
      UnsafeShellArgumentError,
    );
  });
});
