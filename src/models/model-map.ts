/**
 * MODEL_MAP_<KEY>: a client model name matches KEY when it is upper-cased and every character
 * outside A-Z0-9 becomes `_` (gpt-4o → GPT_4O, gpt4 → GPT4). Unmatched names pass unchanged.
 */
export function modelMapKey(model: string): string {
  return model.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export function resolveModel(model: string, modelMap: ReadonlyMap<string, string>): string {
  if (modelMap.size === 0) return model;
  return modelMap.get(modelMapKey(model)) ?? model;
}
