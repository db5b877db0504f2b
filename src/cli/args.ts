import { UsageError } from '../errors.js';

/** Argument parsers shared by several commands. */

export function parsePort(value: unknown): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port ${String(value)} is not a port number`);
  return port;
}

export function parseGroups(value: unknown): string[] {
  if (value === undefined || value === '') return [];
  const groups = String(value).split(',').map((g) => g.trim()).filter(Boolean);
  for (const g of groups) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(g)) throw new UsageError(`bad group name "${g}"`, 'groups use letters, digits, "_", ".", ":" and "-"');
  }
  return groups;
}
