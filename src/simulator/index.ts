export { startSimulator } from './server.ts';
export type { RecordedRequest, Simulator, SimulatorFault, SimulatorOptions } from './types.ts';
export {
  SIMULATED_MODELS,
  findModel,
  toFoundationModel,
  type LifecycleEntry,
  type ModelFunction,
  type ModelLimits,
  type SimulatedModel,
} from './models.ts';
export { estimateTokens, truncateToTokens } from './tokens.ts';
export { MAX_EMBEDDING_INPUTS, simulatedEmbedding } from './embeddings.ts';
export { DEFAULT_MAX_NEW_TOKENS, continuationText } from './generation.ts';
export { MAX_RERANK_INPUTS, RERANK_MAX_INPUT_TOKENS, simulatedRerankScore } from './rerank.ts';
