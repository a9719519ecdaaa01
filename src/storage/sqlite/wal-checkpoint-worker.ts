// Runs in a worker thread started by WalCheckpointer: checkpoints one database's WAL on a connection of its own, so
// that the copying and the two fsyncs of a checkpoint never run on the event loop of the connection that writes.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointWorkerData {
  file: string;
  intervalMs: number;
  /** WAL pages above which a checkpoint waits for the writer so that the WAL starts over (bounds its size). */
  restartPages: number;
}

export type CheckpointWorkerMessage = { kind: 'ready' } | { kind: 'failed'; message: string };

interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

const { file, intervalMs, restartPages } = workerData as CheckpointWorkerData;
const port = parentPort!;
let db: Database.Database | undefined;
let timer: NodeJS.Timeout | undefined;

function checkpoint(): void {
  try {
    const [passive] = db!.pragma('wal_checkpoint(PASSIVE)') as CheckpointResult[];
    // A writer starts the WAL over only when it begins while every frame is checkpointed; under a steady load that
    // moment may not come, and the WAL would grow without bound. RESTART waits for the writer (busy_timeout) and
    // holds off the next one until it has copied the few frames the passive pass left.
    if (passive !== undefined && passive.log >= restartPages) db!.pragma('wal_checkpoint(RESTART)');
    timer = setTimeout(checkpoint, intervalMs);
  } catch (err) {
    fail(err);
  }
}

function fail(err: unknown): void {
  const message: CheckpointWorkerMessage = { kind: 'failed', message: (err as Error).message ?? String(err) };
  port.postMessage(message);
  stop();
}

function stop(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  try {
    db?.close();
  } finally {
    db = undefined;
    port.close();
  }
}

port.on('message', (message: 'stop') => {
  if (message === 'stop') stop();
});

try {
  db = new Database(file, { fileMustExist: true });
  db.pragma('busy_timeout = 1000');
  // Never this connection's own auto-checkpoint (it writes nothing), and a checkpoint syncs the WAL and the database.
  db.pragma('synchronous = FULL');
  const ready: CheckpointWorkerMessage = { kind: 'ready' };
  port.postMessage(ready);
  timer = setTimeout(checkpoint, intervalMs);
} catch (err) {
  fail(err);
}
