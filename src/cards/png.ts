import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { CardError } from './errors.js';

/** A PNG chunk as stored: four-letter type and payload (length and CRC are derived). */
export interface PngChunk {
  type: string;
  data: Buffer;
}

/** A decoded tEXt, zTXt or iTXt chunk. */
export interface PngText {
  keyword: string;
  text: string;
  chunk: 'tEXt' | 'zTXt' | 'iTXt';
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const TEXT_TYPES = new Set(['tEXt', 'zTXt', 'iTXt']);
/** Compressed text chunks inflate to at most this much unless the reader says less, so a tiny file cannot exhaust memory. */
export const MAX_INFLATED_TEXT = 64 * 1024 * 1024;

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= SIGNATURE.length && SIGNATURE.equals(bytes.subarray(0, SIGNATURE.length));
}

/**
 * Splits a PNG into chunks, checking the signature, every length and every CRC, so a damaged
 * upload is reported as damaged instead of yielding half a card. Bytes after IEND are ignored.
 */
export function readPngChunks(bytes: Buffer): PngChunk[] {
  if (!isPng(bytes)) throw new CardError('NOT_PNG', 'Not a PNG file: the 8-byte PNG signature is missing');
  const chunks: PngChunk[] = [];
  let at = SIGNATURE.length;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw badPng(`the file is cut off inside a chunk header at byte ${at}`);
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) throw badPng(`chunk at byte ${at} has an invalid type ${JSON.stringify(type)}`);
    if (length > 0x7fffffff || at + 12 + length > bytes.length) {
      throw badPng(`the ${type} chunk at byte ${at} claims ${length} bytes but the file ends first`);
    }
    const data = bytes.subarray(at + 8, at + 8 + length);
    const stored = bytes.readUInt32BE(at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== stored) {
      throw badPng(`the ${type} chunk at byte ${at} fails its CRC check (the file is corrupted)`);
    }
    if (chunks.length === 0 && type !== 'IHDR') throw badPng(`the first chunk is ${type}, not IHDR`);
    chunks.push({ type, data });
    at += 12 + length;
    if (type === 'IEND') return chunks;
  }
  throw badPng(chunks.length === 0 ? 'there are no chunks after the signature' : 'the IEND chunk is missing (the file is cut off)');
}

/** Serializes chunks back to a PNG, computing lengths and CRCs. */
export function encodePng(chunks: readonly PngChunk[]): Buffer {
  const parts: Buffer[] = [SIGNATURE];
  for (const { type, data } of chunks) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
    parts.push(head, data, crc);
  }
  return Buffer.concat(parts);
}

/** Decodes every text chunk, inflating compressed zTXt and iTXt payloads (for files we wrote: see `decodePngText`). */
export function readPngTexts(chunks: readonly PngChunk[]): PngText[] {
  return chunks.filter((chunk) => TEXT_TYPES.has(chunk.type)).map((chunk) => decodePngText(chunk));
}

/**
 * Builds a text chunk. tEXt (what SillyTavern writes) holds Latin-1; iTXt holds UTF-8 and may
 * be zlib-compressed; zTXt is always compressed Latin-1.
 */
export function encodeTextChunk(keyword: string, text: string, kind: PngText['chunk'] = 'tEXt', compress = false): PngChunk {
  if (!/^[\x20-\x7e\xa1-\xff]{1,79}$/.test(keyword) || keyword !== keyword.trim()) {
    throw new CardError('BAD_PNG', `PNG text keyword ${JSON.stringify(keyword)} must be 1-79 Latin-1 characters without edge spaces`);
  }
  const key = Buffer.from(keyword + '\0', 'latin1');
  if (kind === 'tEXt') return { type: kind, data: Buffer.concat([key, Buffer.from(text, 'latin1')]) };
  if (kind === 'zTXt') return { type: kind, data: Buffer.concat([key, Buffer.from([0]), deflateSync(Buffer.from(text, 'latin1'))]) };
  const body = Buffer.from(text, 'utf8');
  const header = Buffer.from([compress ? 1 : 0, 0, 0, 0]); // flag, method, empty language tag, empty translated keyword
  return { type: kind, data: Buffer.concat([key, header, compress ? deflateSync(body) : body]) };
}

/**
 * Returns the PNG with text chunks named by `texts` written as tEXt before IEND, after removing
 * every existing text chunk (of any kind) whose keyword matches one of them case-insensitively,
 * so no stale copy of a card can be read back later. Other chunks are kept untouched.
 */
export function setPngTexts(png: Buffer, texts: ReadonlyArray<{ keyword: string; text: string }>): Buffer {
  const replaced = new Set(texts.map((t) => t.keyword.toLowerCase()));
  const kept = readPngChunks(png).filter((chunk) => !replaced.has(textKeywordOf(chunk)?.toLowerCase() ?? ''));
  return encodePng(insertBeforeIend(kept, texts.map((t) => encodeTextChunk(t.keyword, t.text))));
}

function insertBeforeIend(chunks: PngChunk[], added: PngChunk[]): PngChunk[] {
  const end = chunks.findIndex((chunk) => chunk.type === 'IEND');
  return [...chunks.slice(0, end), ...added, ...chunks.slice(end)];
}

/** The keyword of a tEXt, zTXt or iTXt chunk without decoding its text; undefined for other chunks. */
export function textKeywordOf(chunk: PngChunk): string | undefined {
  if (!TEXT_TYPES.has(chunk.type)) return undefined;
  const nul = chunk.data.indexOf(0);
  return chunk.data.toString('latin1', 0, nul === -1 ? chunk.data.length : nul);
}

/**
 * One text chunk, a compressed one inflated to at most `maxBytes`. An upload's other text chunks
 * are never decoded: a hundred chunks that each inflate to the limit fit in a few megabytes.
 */
export function decodePngText(chunk: PngChunk, maxBytes = MAX_INFLATED_TEXT): PngText {
  const { data } = chunk;
  const nul = data.indexOf(0);
  if (nul < 1) throw badPng(`a ${chunk.type} chunk has no keyword`);
  const keyword = data.toString('latin1', 0, nul);
  if (chunk.type === 'tEXt') return { keyword, text: data.toString('latin1', nul + 1), chunk: 'tEXt' };
  if (chunk.type === 'zTXt') {
    if (data[nul + 1] !== 0) throw badPng(`the zTXt chunk "${keyword}" uses an unknown compression method`);
    return { keyword, text: inflate(data.subarray(nul + 2), keyword, maxBytes).toString('latin1'), chunk: 'zTXt' };
  }
  const compressed = data[nul + 1];
  if (compressed === undefined || data[nul + 2] === undefined) throw badPng(`the iTXt chunk "${keyword}" is cut off`);
  const language = data.indexOf(0, nul + 3);
  const translated = language === -1 ? -1 : data.indexOf(0, language + 1);
  if (translated === -1) throw badPng(`the iTXt chunk "${keyword}" is missing its language fields`);
  const body = data.subarray(translated + 1);
  if (compressed === 0) return { keyword, text: body.toString('utf8'), chunk: 'iTXt' };
  if (compressed !== 1 || data[nul + 2] !== 0) throw badPng(`the iTXt chunk "${keyword}" uses an unknown compression method`);
  return { keyword, text: inflate(body, keyword, maxBytes).toString('utf8'), chunk: 'iTXt' };
}

function inflate(bytes: Buffer, keyword: string, maxBytes: number): Buffer {
  try {
    return inflateSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new CardError('TOO_LARGE', `The compressed "${keyword}" text chunk inflates to more than ${maxBytes} bytes`);
    }
    throw badPng(`the compressed "${keyword}" text chunk does not inflate: ${(err as Error).message}`);
  }
}

function badPng(why: string): CardError {
  return new CardError('BAD_PNG', `Broken PNG: ${why}`);
}
