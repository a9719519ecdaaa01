import type { TwinCandidate, TwinCandidateRequest } from '../../ports/twin-query-index.js';
import { toDevice, toModule, type DeviceRow, type ModuleRow } from './registry-statements.js';
import { and, FALSE, or, SqlParams, TRUE } from './sql-text.js';
import { compileWhere } from './twin-query-sql.js';
import { toTwin, type TwinRow } from './twin-statements.js';

/** A candidates row: the devices row's columns as they are, the modules and twins rows' prefixed. */
export interface CandidateRow extends DeviceRow {
  m_module_id?: string;
  m_generation_id?: string;
  m_version?: number;
  m_managed_by?: string | null;
  m_authentication?: ModuleRow['authentication'];
  /** Null (like every t_ column) when the target has no twins row. */
  t_version: number | null;
  t_tags: TwinRow['tags'] | null;
  t_desired: TwinRow['desired'] | null;
  t_desired_version: number | null;
  t_desired_metadata: TwinRow['desired_metadata'] | null;
  t_reported: TwinRow['reported'] | null;
  t_reported_version: number | null;
  t_reported_metadata: TwinRow['reported_metadata'] | null;
}

const DEVICE_COLUMNS = `d.device_id, d.generation_id, d.version, d.status, d.status_reason, d.status_updated_time, d.authentication,
       d.capabilities, d.device_scope, d.parent_scopes`;
const MODULE_COLUMNS = `m.module_id AS m_module_id, m.generation_id AS m_generation_id, m.version AS m_version,
       m.managed_by AS m_managed_by, m.authentication AS m_authentication`;
const TWIN_COLUMNS = `t.version AS t_version, t.tags AS t_tags, t.desired AS t_desired, t.desired_version AS t_desired_version,
       t.desired_metadata AS t_desired_metadata, t.reported AS t_reported, t.reported_version AS t_reported_version,
       t.reported_metadata AS t_reported_metadata`;

/**
 * Candidates in one statement: the registry rows and the twins row (when there is one) of each target whose WHERE
 * may hold, among the devices up to `upTo` when given. The condition is compiled twice: for targets with a twins
 * row, and for those without, whose view shows the empty twin. When no target without a twin can match, the join is
 * an inner join, so the planner can start from the twins table's GIN indexes.
 */
export function candidatesStatement(request: TwinCandidateRequest, upTo?: string): { text: string; values: unknown[] } {
  const modules = request.from === 'devices.modules';
  const params = new SqlParams();
  const withTwin = request.where === undefined ? TRUE : compileWhere(request.where, { modules, twin: true }, params);
  const withoutTwin = request.where === undefined ? TRUE : compileWhere(request.where, { modules, twin: false }, params);
  const inner = withoutTwin === FALSE;
  const filter = inner ? withTwin : or(and('t.version IS NOT NULL', withTwin), and('t.version IS NULL', withoutTwin));
  const join = inner ? 'JOIN' : 'LEFT JOIN';

  // The id range goes on every table, the twins one included: the planner does not carry ranges across joins.
  const after = request.after;
  const from = after === undefined ? undefined : params.add(after.deviceId, 'text');
  const to = upTo === undefined ? undefined : params.add(upTo, 'text');
  const range = (alias: string, level: 'target' | 'device'): string => {
    let start = TRUE;
    if (from !== undefined) {
      if (!modules || after?.moduleId === undefined) start = `${alias}.device_id > ${from}`;
      else if (level === 'device') start = `${alias}.device_id >= ${from}`;
      else start = `(${alias}.device_id, ${alias}.module_id) > (${from}, ${params.add(after.moduleId, 'text')})`;
    }
    return and(start, to === undefined ? TRUE : `${alias}.device_id <= ${to}`);
  };
  const limit = params.add(request.limit, 'int');
  const text = modules
    ? `SELECT ${DEVICE_COLUMNS}, ${MODULE_COLUMNS}, ${TWIN_COLUMNS}
       FROM modules m
       JOIN devices d ON d.device_id = m.device_id
       ${join} twins t ON ${and('t.device_id = m.device_id', 't.module_id = m.module_id', range('t', 'target'))}
       WHERE ${and(range('m', 'target'), range('d', 'device'), filter)}
       ORDER BY m.device_id, m.module_id
       LIMIT ${limit}`
    : `SELECT ${DEVICE_COLUMNS}, ${TWIN_COLUMNS}
       FROM devices d
       ${join} twins t ON ${and('t.device_id = d.device_id', "t.module_id = ''", range('t', 'target'))}
       WHERE ${and(range('d', 'target'), filter)}
       ORDER BY d.device_id
       LIMIT ${limit}`;
  return params.statement(text);
}

export function toCandidate(row: CandidateRow): TwinCandidate {
  const device = toDevice(row);
  const module =
    row.m_module_id === undefined
      ? undefined
      : toModule({
          device_id: row.device_id,
          module_id: row.m_module_id,
          generation_id: row.m_generation_id!,
          version: row.m_version!,
          managed_by: row.m_managed_by!,
          authentication: row.m_authentication!,
        });
  const twin =
    row.t_version === null
      ? undefined
      : toTwin({
          device_id: row.device_id,
          module_id: row.m_module_id ?? '',
          version: row.t_version,
          tags: row.t_tags!,
          desired: row.t_desired!,
          desired_version: row.t_desired_version!,
          desired_metadata: row.t_desired_metadata!,
          reported: row.t_reported!,
          reported_version: row.t_reported_version!,
          reported_metadata: row.t_reported_metadata!,
        });
  return { device, ...(module === undefined ? {} : { module }), twin };
}

/** The device `window` places after `after` (from the first device without it): the end of a window of ids. */
export function windowEndStatement(after: string | undefined, window: number): { text: string; values: unknown[] } {
  return after === undefined
    ? { text: 'SELECT device_id FROM devices ORDER BY device_id OFFSET $1 LIMIT 1', values: [window - 1] }
    : { text: 'SELECT device_id FROM devices WHERE device_id > $2 ORDER BY device_id OFFSET $1 LIMIT 1', values: [window - 1, after] };
}
