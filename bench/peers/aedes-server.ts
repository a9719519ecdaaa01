// A peer broker for the d2c benchmark: aedes (in-memory persistence, its default) behind a TLS listener.
// Usage: node dist/bench/peers/aedes-server.js CERT_FILE KEY_FILE   -> prints the bound port, then serves.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';
import { Aedes } from 'aedes';

const [certFile, keyFile] = process.argv.slice(2);
if (!certFile || !keyFile) throw new Error('usage: aedes-server CERT KEY');
const broker = await Aedes.createBroker();
const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, broker.handle);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => server.close(() => broker.close(() => process.exit(0))));
