// The CLI's version, and what `--version` prints: the version, then which backend each native-backed
// stage of the engine runs on this machine (see @bundlefarm/engine's backends.ts).
import { engineBackends, formatBackends } from '@bundlefarm/engine';

export const VERSION = '0.1.0';

export function versionText(): string {
  return `${VERSION}\n${formatBackends(engineBackends())}`;
}
