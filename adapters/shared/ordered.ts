/**
 * Keeps a chat's messages in arrival order on their way into the engine. Turning a platform
 * event into an InboundMessage can take a network round trip (an admin check, a photo download),
 * and the engine serializes turns in the order `handle` is called — so without this, a photo
 * followed quickly by a text could reach the engine text-first. Only the normalization runs in
 * the chain; replies are delivered outside it, so a long reply never holds up the next message.
 */
export { KeyedSerialQueue as OrderedByKey } from '../../src/core/serial.js';
