export { startSimulator } from './server.ts';
export type { RecordedRequest, Simulator, SimulatorFault, SimulatorOptions } from './types.ts';
export { SIMULATED_MODELS, findModel, type SimulatedModel } from './models.ts';
export { estimateTokens } from './tokens.ts';
