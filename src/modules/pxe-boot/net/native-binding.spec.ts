import { join, resolve } from 'path';
import { findRepoRoot, nativeAddonPath } from './native-binding';
import { NetErrorCode } from './net.errors';

describe('native-binding path resolution', () => {
  const repoRoot = resolve(__dirname, '..', '..', '..', '..');

  it('finds the repository root from src/ (ts-jest, ts-node) and from the compiled dist/src/', () => {
    expect(findRepoRoot(__dirname)).toBe(repoRoot);
    expect(findRepoRoot(join(repoRoot, 'dist', 'src', 'modules', 'pxe-boot', 'net'))).toBe(repoRoot);
  });

  it('points at native/build/Release/dls_net.node', () => {
    expect(nativeAddonPath()).toBe(join(repoRoot, 'native', 'build', 'Release', 'dls_net.node'));
  });

  it('fails clearly outside the repository', () => {
    expect(() => findRepoRoot('/')).toThrow(expect.objectContaining({ code: NetErrorCode.NATIVE_ADDON_NOT_BUILT }));
  });
});
