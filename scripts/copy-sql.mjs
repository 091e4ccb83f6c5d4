// The migrations are read at run time next to the compiled module: copy them into dist.
import { cpSync } from 'node:fs';

cpSync(new URL('../src/sensors/sql', import.meta.url), new URL('../dist/sensors/sql', import.meta.url), { recursive: true });
