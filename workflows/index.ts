/** Every workflow type the `sluice` workflow queue serves. Deterministic code only. */
export { hello } from './hello';
