import { deflateSync } from 'node:zlib';
import { encodePng } from './png.js';

/**
 * A solid-colour square PNG for a character without a picture. The colour comes from the name,
 * so the same character always gets the same avatar and different ones are told apart at a glance.
 */
export function placeholderAvatar(name: string, size = 256): Buffer {
  if (!Number.isInteger(size) || size < 1 || size > 4096) throw new RangeError(`placeholder size must be 1-4096 pixels, not ${size}`);
  const [r, g, b] = placeholderColour(name);
  const row = Buffer.alloc(1 + size * 3); // filter byte 0 (None), then RGB triples
  for (let x = 0; x < size; x++) row.set([r, g, b], 1 + x * 3);
  const pixels = Buffer.concat(Array.from({ length: size }, () => row));
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit depth, truecolour, deflate, adaptive filtering, no interlace
  return encodePng([
    { type: 'IHDR', data: header },
    { type: 'IDAT', data: deflateSync(pixels) },
    { type: 'IEND', data: Buffer.alloc(0) },
  ]);
}

/** The placeholder's RGB colour: a hue hashed from the name, at a saturation and lightness that read well. */
export function placeholderColour(name: string): [number, number, number] {
  let hash = 0x811c9dc5; // FNV-1a
  for (const byte of Buffer.from(name.trim().toLowerCase(), 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hslToRgb(hash % 360, 0.45, 0.55);
}

function hslToRgb(hue: number, saturation: number, lightness: number): [number, number, number] {
  const chroma = (1 - Math.abs(2 * lightness - 1)) * saturation;
  const channel = (n: number): number => {
    const k = (n + hue / 30) % 12;
    return Math.round(255 * (lightness - chroma / 2 * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [channel(0), channel(8), channel(4)];
}
