import type { Check } from '../suite.js';
import { dispatcherChecks } from './dispatcher.js';
import { imageChecks } from './image.js';
import { pokeChecks } from './poke.js';
import { xdpChecks } from './xdp.js';

/** The whole conformance suite, in the order it runs. */
export const CHECKS: readonly Check[] = [...imageChecks, ...pokeChecks, ...dispatcherChecks, ...xdpChecks];
