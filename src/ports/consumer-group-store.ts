/**
 * Consumer groups of the Event Hub-compatible endpoint. Names compare case-insensitively; `$Default` always exists
 * and is never stored. Errors: HubError ArgumentInvalid (bad name), ConsumerGroupAlreadyExists... see the adapter.
 */
export interface ConsumerGroupStore {
  list(): Promise<Array<{ name: string; createdAt: string }>>;
  /** True when created, false when a group of that name (in any case) already exists. */
  create(name: string, createdAt: string): Promise<boolean>;
  /** True when deleted, false when there was none. */
  delete(name: string): Promise<boolean>;
  exists(name: string): Promise<boolean>;
}
