import * as zlib from 'node:zlib';

/** CRC-32 (IEEE 802.3, the zlib/PNG polynomial) of `data`, continuing from `crc`. */
export type Crc32 = (data: Uint8Array, crc?: number) => number;

let table: Uint32Array | undefined;

/** Table-driven fallback for Node versions without `zlib.crc32` (added in 20.15 / 22.2). */
function crc32Js(data: Uint8Array, crc = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as unknown as { crc32?: Crc32 }).crc32;

/** CRC-32 of the bytes: zlib's native one when the runtime has it, else a table-driven one with the same results. */
export const crc32: Crc32 = typeof native === 'function' ? native : crc32Js;

/** Exposed for the test that checks both implementations agree. */
export const crc32Fallback: Crc32 = crc32Js;
