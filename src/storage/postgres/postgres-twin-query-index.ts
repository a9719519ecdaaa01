import type { TwinCandidate, TwinCandidateRequest, TwinQueryCursor, TwinQueryIndex } from '../../ports/twin-query-index.js';
import type { Sql } from './database.js';
import { candidatesStatement, toCandidate, windowEndStatement, type CandidateRow } from './twin-query-statements.js';

/** Devices in the first window of ids searched, per candidate asked for. */
const FIRST_WINDOW_PER_CANDIDATE = 4;
/** Fewer candidates than one in this many devices of a window: the rest is searched in one statement. */
const SPARSE = 64;
/** A next window is this many times the size the last one's candidate rate says is needed. */
const HEADROOM = 2;
const MAX_WINDOW = 2 ** 31 - 1;

/**
 * TwinQueryIndex on the devices, modules and twins tables (migrations 1 and 3): the WHERE expression compiled to SQL
 * over the jsonb query columns (twin-query-sql.ts), so PostgreSQL narrows the targets with its indexes and returns
 * what the hub needs to build their views.
 *
 * PostgreSQL keeps no statistics inside jsonb, so it takes every condition for a selective one. For a condition that
 * is not, an open-ended "first N in id order" would have it collect and sort every match on every page. So ids are
 * searched in windows that end at a real device id (the planner sizes those from the primary key): first a few
 * times the page; if matches are dense, a window sized from their rate; if sparse, the rest at once, which is where
 * the planner's guess is right and the GIN indexes serve. A page costs about its own size when most targets match,
 * and an index scan or two when few do.
 */
export class PostgresTwinQueryIndex implements TwinQueryIndex {
  readonly #db: Sql;

  constructor(db: Sql) {
    this.#db = db;
  }

  async candidates(request: TwinCandidateRequest): Promise<TwinCandidate[]> {
    if (!Number.isInteger(request.limit) || request.limit < 0 || request.limit > 2 ** 31 - 1) {
      throw new TypeError(`twin query candidates: limit must be an integer from 0 to 2^31-1, got ${request.limit}`);
    }
    const found: TwinCandidate[] = [];
    let after: TwinQueryCursor | undefined = request.after;
    let window: number | undefined = Math.max(1, request.limit * FIRST_WINDOW_PER_CANDIDATE);
    while (found.length < request.limit) {
      const size: number | undefined = window;
      const upTo = size === undefined ? undefined : await this.#windowEnd(after?.deviceId, size);
      const { text, values } = candidatesStatement({ ...request, ...(after === undefined ? {} : { after }), limit: request.limit - found.length }, upTo);
      const { rows } = await this.#db.query<CandidateRow>(text, values);
      found.push(...rows.map(toCandidate));
      if (size === undefined || upTo === undefined) break;
      after = { deviceId: upTo };
      const needed = request.limit - found.length;
      window = rows.length * SPARSE < size ? undefined : Math.min(MAX_WINDOW, Math.ceil(((needed * size) / rows.length) * HEADROOM));
    }
    return found;
  }

  /** The last device id of the window, or undefined when fewer devices follow: the window is the rest. */
  async #windowEnd(after: string | undefined, window: number): Promise<string | undefined> {
    const { text, values } = windowEndStatement(after, window);
    const { rows } = await this.#db.query<{ device_id: string }>(text, values);
    return rows[0]?.device_id;
  }
}
