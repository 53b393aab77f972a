/** File names that clients send, made safe to store and show. */

/**
 * A safe display name: the last path segment (or the zip entry's path), at most 255 characters, without control
 * characters or the bidirectional controls that make "exe.jpg" display as "gpj.exe" (U+202A-E, U+2066-9, U+200E-F,
 * U+061C).
 */
export function cleanName(raw: string | undefined, fallback: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = (raw ?? '').normalize('NFC').replace(/[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/g, '').trim();
  return (cleaned || fallback).slice(-255);
}
