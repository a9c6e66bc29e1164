// Writes docs/errors.md from the error registry (packages/errors/src/error-registry.ts).
import { writeFileSync } from 'node:fs';
import { renderErrorTable } from '@bundlefarm/errors';

writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorTable());
console.log('docs/errors.md written');
