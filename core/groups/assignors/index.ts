/** The assignors a group can use, by the name its configuration gives. */
import { rangeAssignor } from './range.js';
import type { Assignor } from './types.js';
import { uniformAssignor } from './uniform.js';

export { rangeAssignor } from './range.js';
export type { Assignment, AssignmentInput, Assignor, AssignorMember } from './types.js';
export { uniformAssignor } from './uniform.js';

export const ASSIGNORS = { uniform: uniformAssignor, range: rangeAssignor } as const satisfies Record<
  string,
  Assignor
>;

export type AssignorName = keyof typeof ASSIGNORS;
