// The number flags of the benchmarks, checked the same way everywhere.

/** A flag's value as a whole number of at least `min`. */
export function wholeNumber(text: string, flag: string, min: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min) throw new Error(`--${flag} must be a whole number >= ${min}, not "${text}"`);
  return Number(text);
}

/** A flag's value as a number above 0 (seconds, rates). */
export function positiveNumber(text: string, flag: string): number {
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${flag} must be a positive number, not "${text}"`);
  return n;
}
