/*
 * Directories a command created for its output (`mkdir -p`), removed again when the command fails or is
 * interrupted — only those it created, and only while they are empty (rmdir refuses otherwise), so
 * nothing a user had is ever touched.
 */
import { mkdir, rmdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export class CreatedDirectories {
  /** The topmost directory mkdir created (undefined: it existed already). */
  private top: string | undefined;
  private leaf: string | undefined;

  /** `mkdir -p directory`, remembering what it created. */
  async make(directory: string): Promise<void> {
    const created = await mkdir(directory, { recursive: true });
    if (created !== undefined) {
      this.top = resolve(created);
      this.leaf = resolve(directory);
    }
  }

  /** Removes the directories `make` created, deepest first, as long as they are empty. */
  async removeIfEmpty(): Promise<void> {
    const { top, leaf } = this;
    this.top = this.leaf = undefined;
    if (top === undefined || leaf === undefined) return;
    for (let dir = leaf; ; dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty (or gone): what is left stays
      }
      if (dir === top || dirname(dir) === dir) return;
    }
  }
}
