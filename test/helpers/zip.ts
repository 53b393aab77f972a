/**
 * A tiny zip writer for tests, so they can craft the archives ordinary tools refuse to make: names with `..`
 * or backslashes, symbolic links and fifos, encryption flags without encryption, sizes that lie. Local headers,
 * central directory and end record, no zip64, no data descriptors. "Version made by" is unix (3), so the
 * external attributes carry `mode` in their high 16 bits. CRC-32 comes from `zlib.crc32` (Node ≥ 20.15).
 */
import { writeFile } from 'node:fs/promises';
import zlib from 'node:zlib';

export interface ZipEntrySpec {
  name: string;
  data?: Uint8Array | string;
  /** Default 'store'. */
  method?: 'store' | 'deflate';
  /** Sets the symlink file type (0o120777); `data` is then the link target. */
  symlink?: boolean;
  /** The full unix mode, file type included (e.g. 0o010644 for a fifo); overrides `symlink`/`directory`. */
  mode?: number;
  /** A directory entry: a trailing `/` is added to the name when missing, no data. */
  directory?: boolean;
  /** The uncompressed size written in the headers instead of the real one (the CRC stays correct). */
  declaredSize?: number;
  /** Sets the "encrypted" flag and puts a (fake) 12-byte encryption header before the data. */
  encrypted?: boolean;
}

const UNIX = 3;
const DOS_DATE_1980_01_01 = 0x21;

export function makeZip(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.directory && !e.name.endsWith('/') ? `${e.name}/` : e.name, 'utf8');
    const raw = e.directory ? Buffer.alloc(0) : Buffer.from(e.data ?? '');
    const method = e.method === 'deflate' ? 8 : 0;
    let stored = method === 8 ? zlib.deflateRawSync(raw) : raw;
    if (e.encrypted) stored = Buffer.concat([Buffer.alloc(12), stored]);
    const mode = e.mode ?? (e.symlink ? 0o120777 : e.directory ? 0o040755 : 0o100644);
    const flags = 0x800 | (e.encrypted ? 1 : 0); // UTF-8 names
    const common = {
      flags,
      method,
      crc: zlib.crc32(raw),
      compressed: stored.length,
      size: e.declaredSize ?? raw.length,
    };

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    writeCommon(local, 4, common);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra field length
    locals.push(local, name, stored);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((UNIX << 8) | 20, 4); // version made by
    writeCommon(central, 6, common);
    central.writeUInt16LE(name.length, 28);
    // 30 extra length, 32 comment length, 34 disk, 36 internal attributes: all 0
    central.writeUInt32LE(((mode << 16) | (e.directory ? 0x10 : 0)) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += local.length + name.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

export async function writeZip(path: string, entries: ZipEntrySpec[]): Promise<void> {
  await writeFile(path, makeZip(entries));
}

/** The fields local and central headers share, from "version needed" to the uncompressed size. */
function writeCommon(b: Buffer, at: number, c: { flags: number; method: number; crc: number; compressed: number; size: number }): void {
  b.writeUInt16LE(20, at); // version needed: 2.0
  b.writeUInt16LE(c.flags, at + 2);
  b.writeUInt16LE(c.method, at + 4);
  b.writeUInt16LE(0, at + 6); // time 00:00
  b.writeUInt16LE(DOS_DATE_1980_01_01, at + 8);
  b.writeUInt32LE(c.crc, at + 10);
  b.writeUInt32LE(c.compressed, at + 14);
  b.writeUInt32LE(c.size, at + 18);
}
