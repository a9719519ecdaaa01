/**
 * The partition of a device's telemetry: FNV-1a (32-bit) of the device id's UTF-8 bytes, modulo the partition
 * count. It must never change while data exists, or a device's messages would lose their order.
 */
export function partitionOf(deviceId: string, partitionCount: number): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(deviceId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitionCount;
}
