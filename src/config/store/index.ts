// The config store's public surface: the ConfigStore interface and event type, and the two implementations.
export type { ConfigEvent, ConfigEventType, ConfigListener, ConfigStore, Conflict, Rejection, RejectedError, StoreLog, StoredResource } from './types.ts';
export type { LoadedLike, TextLoader } from './loader.ts';
export { MemoryStore } from './memory.ts';
export type { ApplyOutcome, MemoryStoreOptions } from './memory.ts';
export { DirectoryStore } from './directory.ts';
export type { DirectoryStoreOptions } from './directory.ts';
export { pipelineLoader } from './pipeline.ts';
export { contentVersion, keyString } from './state.ts';
