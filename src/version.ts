import fs from 'node:fs';
import path from 'node:path';

/** The package version, read once; the file sits two levels up from both `src/` and `dist/`. */
export const VERSION: string = (
  JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }
).version;
