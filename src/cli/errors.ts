/**
 * What the user sees when a command fails: one paragraph naming the file and the fix. File-system
 * errors from Node (EEXIST, ENOTDIR, EACCES...) carry only a code and a path; they are said in words.
 */
export function explain(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const path = err.path;
  if (!err.code || !path) return err.message ?? String(e);
  switch (err.code) {
    case 'EEXIST':
    case 'ENOTDIR':
      return `Cannot write "${path}": a file is in the way (${err.code}: a path the output needs, or a folder above it, is an existing file). Choose another -o, or move that file.`;
    case 'EISDIR':
      return `Cannot write "${path}": it is a folder, where a file is needed. Choose another -o.`;
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `Cannot write "${path}": permission denied (${err.code}). Choose an -o in a folder you can write.`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `Cannot write "${path}": the disk is full (${err.code}). Free some space or choose an -o on another disk; nothing half-written was kept.`;
    case 'ENOENT':
      return `Cannot read "${path}": no such file or folder. Check the path.`;
    default:
      return `${err.message}`;
  }
}
