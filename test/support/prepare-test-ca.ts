// Run by scripts/test.js before the suite: the CA every test hub issues its server certificate from, and that
// the test processes trust through NODE_EXTRA_CA_CERTS.
import { ensureCertificates } from '../../src/app/tls/certificates.js';

const dir = process.env.LAZULI_TEST_CA_DIR;
if (!dir) throw new Error('LAZULI_TEST_CA_DIR is not set');
await ensureCertificates(dir, { hostname: 'localhost' });
