import { summarise } from '../bench/report.js';

/** A dispatcher-N result taking `ns` nanoseconds per 1000 packets. */
export const dispatcherCase = (n: number, ns: number) => summarise(`dispatcher-${n}`, 'packets', n, 1000, [ns]);
