// `npm run bench -- NAME [flags]`: runs the benchmark in ./NAME.js (compiled from bench/NAME.ts), which exports
// `run(args)`. Without a known NAME it lists the benchmarks in this folder and exits 2.
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const NAME = /^[a-z0-9-]+$/;
const here = new URL('.', import.meta.url);

function available(): string[] {
  return readdirSync(fileURLToPath(here))
    .filter((f) => f.endsWith('.js') && f !== 'run.js')
    .map((f) => f.slice(0, -'.js'.length))
    .filter((name) => NAME.test(name))
    .sort();
}

function usage(problem: string): void {
  console.error(`${problem}\nusage: npm run bench -- NAME [flags]\nbenchmarks: ${available().join(', ') || '(none)'}`);
  process.exitCode = 2;
}

const [name, ...args] = process.argv.slice(2);
const file = name !== undefined && NAME.test(name) ? new URL(`./${name}.js`, here) : undefined;
if (name === undefined) {
  usage('no benchmark named');
} else if (file === undefined || !existsSync(fileURLToPath(file)) || name === 'run') {
  usage(`no benchmark "${name}"`);
} else {
  const bench = (await import(file.href)) as { run?: (args: string[]) => Promise<void> };
  if (typeof bench.run !== 'function') {
    usage(`bench/${name} exports no run(args) function`);
  } else {
    try {
      await bench.run(args);
    } catch (err) {
      console.error(`bench ${name}: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  }
}
