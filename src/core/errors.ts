/**
 * The error every layer throws for bad input a person can fix (a missing file, a photo without a
 * face, a wrong size, a bad option): the CLI prints its message as it is and exits 1, where any
 * other error is a bug and gets a stack trace.
 */
export class InputError extends Error {
  override name = 'InputError';
}
