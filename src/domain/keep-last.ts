/**
 * `format` with its last argument and result kept: for a value asked for many times within one millisecond (the
 * time text of every message stored, or of every feedback record written, in a burst).
 */
export function keepLast<T>(format: (ms: number) => T): (ms: number) => T {
  let lastMs = Number.NaN;
  let last: T;
  return (ms) => {
    if (ms !== lastMs) {
      last = format(ms);
      lastMs = ms;
    }
    return last;
  };
}
