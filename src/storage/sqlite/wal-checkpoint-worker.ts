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

/** What `PRAGMA wal_checkpoint` reports, of what this worker reads: the WAL's length in pages. */
interface CheckpointResult {
  log: number;
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
  } catch {
    stop();
  }
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
  db.pragma('busy_timeout = 1000'); // how long RESTART waits for the writer
  db.pragma('synchronous = FULL'); // a checkpoint syncs the WAL before copying and the database after
  port.postMessage('ready'); // the only message; any failure ends the worker, and its exit hands checkpoints back
  timer = setTimeout(checkpoint, intervalMs);
} catch {
  stop();
}
