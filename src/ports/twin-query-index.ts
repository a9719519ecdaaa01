import type { DeviceRecord, ModuleRecord } from '../domain/identity.js';
import type { Collection, Expression } from '../domain/query/index.js';
import type { TwinRecord } from '../domain/twin.js';

/** A query target with the records its twin view is built from. */
export interface TwinCandidate {
  device: DeviceRecord;
  /** Present when querying `devices.modules`. */
  module?: ModuleRecord;
  /** Undefined when no twin was ever written for the target (its view shows the empty twin). */
  twin: TwinRecord | undefined;
}

/** Where a page of candidates starts: strictly after this target; without moduleId, after all of the device's. */
export interface TwinQueryCursor {
  deviceId: string;
  moduleId?: string;
}

export interface TwinCandidateRequest {
  from: Collection;
  /** Undefined: every target is a candidate. */
  where: Expression | undefined;
  after?: TwinQueryCursor;
  limit: number;
}

/**
 * A store that can narrow a twin query before the hub evaluates it. `candidates` answers the targets of `from` (the
 * devices, or the modules of every device) in ascending (deviceId, moduleId) order, binary collation, strictly after
 * `after`, at most `limit`, that MAY satisfy `where`: a superset of the matches. It cannot see what a view takes from
 * live connection state (connectionState, lastActivityTime, cloudToDeviceMessageCount), so conditions on those count
 * as possibly true. The hub still evaluates the whole query on every candidate, so an index that over-approximates
 * costs time, never correctness; one that leaves a match out is wrong.
 */
export interface TwinQueryIndex {
  candidates(request: TwinCandidateRequest): Promise<TwinCandidate[]>;
}
