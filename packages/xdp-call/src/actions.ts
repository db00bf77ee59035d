/** XDP verdicts (`enum xdp_action`). */
export const XdpAction = Object.freeze({
  ABORTED: 0,
  DROP: 1,
  PASS: 2,
  TX: 3,
  REDIRECT: 4,
} as const);

/** An XDP verdict value. */
export type XdpActionValue = (typeof XdpAction)[keyof typeof XdpAction];

/** Verdict names by value, for reports. */
export const XDP_ACTION_NAMES = Object.freeze(['ABORTED', 'DROP', 'PASS', 'TX', 'REDIRECT'] as const);

/**
 * Number of defined verdicts.
 * @deprecated no caller in the project; use `XDP_ACTION_NAMES.length`. Kept for users.
 */
export const XDP_ACTIONS = XDP_ACTION_NAMES.length;
