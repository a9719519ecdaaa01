import { createInbox, type Msg, type MsgHdrs, type NatsConnection } from 'nats';

export type GetRequest = { seq: number } | { seq: number; next_by_subj: string } | { last_by_subj: string };

/** A stored message as a get returns it. */
export interface Stored {
  seq: number;
  headers: MsgHdrs | undefined;
  data: Uint8Array;
}

/** Requests in flight per round: enough to keep the pipe full without flooding the server. */
const WINDOW = 256;
const encoder = new TextEncoder();

/**
 * Gets stored messages of one stream through its direct get API; each answer is the message, or undefined when
 * there is none (404). The requests are pipelined: one inbox subscription, WINDOW requests at a time, answers matched
 * to requests by their reply subject. The client's own direct.getMessage sets up a request, a timer and a promise per
 * message and reads about 1.5x slower at 256 messages, 4x at 1000.
 */
export async function getStored(nc: NatsConnection, stream: string, requests: readonly GetRequest[], timeoutMs: number): Promise<Array<Stored | undefined>> {
  const results: Array<Stored | undefined> = [];
  for (let start = 0; start < requests.length; start += WINDOW) {
    results.push(...(await directWindow(nc, stream, requests.slice(start, start + WINDOW), timeoutMs)));
  }
  return results;
}

function directWindow(nc: NatsConnection, stream: string, requests: readonly GetRequest[], timeoutMs: number): Promise<Array<Stored | undefined>> {
  return new Promise((resolve, reject) => {
    const results = new Array<Stored | undefined>(requests.length);
    const inbox = createInbox();
    let pending = requests.length;
    const finish = (err?: Error) => {
      clearTimeout(timer);
      sub.unsubscribe();
      if (err) reject(err);
      else resolve(results);
    };
    const timer = setTimeout(() => finish(new Error(`stream ${stream} answered ${requests.length - pending} of ${requests.length} gets within ${timeoutMs} ms`)), timeoutMs);
    const sub = nc.subscribe(`${inbox}.*`, {
      callback: (err, msg) => {
        if (err) return finish(err);
        const index = Number(msg.subject.slice(inbox.length + 1));
        try {
          results[index] = fromDirect(stream, msg);
        } catch (e) {
          return finish(e as Error);
        }
        if (--pending === 0) finish();
      },
    });
    requests.forEach((request, i) => nc.publish(`$JS.API.DIRECT.GET.${stream}`, encoder.encode(JSON.stringify(request)), { reply: `${inbox}.${i}` }));
  });
}

function fromDirect(stream: string, msg: Msg): Stored | undefined {
  const code = msg.headers?.code ?? 0;
  if (code === 404) return undefined;
  if (code !== 0 && (code < 200 || code > 299)) throw new Error(`direct get from stream ${stream} failed: ${code} ${msg.headers?.description ?? ''}`);
  return { seq: Number(msg.headers?.get('Nats-Sequence')), headers: msg.headers, data: msg.data };
}
