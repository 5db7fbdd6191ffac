import { z } from 'zod';

/**
 * The fields of a Telegram message the adapter reads, with the types the Bot API documents.
 * Only Telegram (holding the webhook secret) or getUpdates can hand us an update, but a message
 * that is not what it says it is must be dropped at the door rather than fail deep inside
 * normalizing (a `chat` without an id, a `text` that is a number, a chat id of "constructor").
 * Unknown fields pass: the Bot API adds fields often, and we read none of them.
 */
const user = z.looseObject({
  id: z.int(),
  is_bot: z.boolean().optional(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
  username: z.string().optional(),
});
const entity = z.looseObject({ type: z.string(), offset: z.int(), length: z.int(), user: user.optional() });
const fields = {
  message_id: z.int(),
  message_thread_id: z.int().optional(),
  is_topic_message: z.boolean().optional(),
  from: user.optional(),
  sender_chat: z.looseObject({ id: z.int(), type: z.string(), title: z.string().optional() }).optional(),
  chat: z.looseObject({ id: z.int(), type: z.string(), title: z.string().optional(), is_forum: z.boolean().optional() }),
  text: z.string().optional(),
  caption: z.string().optional(),
  entities: z.array(entity).optional(),
  caption_entities: z.array(entity).optional(),
  photo: z.array(z.looseObject({ file_id: z.string(), width: z.number(), height: z.number(), file_size: z.number().optional() })).optional(),
  document: z.looseObject({ file_id: z.string(), file_name: z.string().optional(), mime_type: z.string().optional(), file_size: z.number().optional() }).optional(),
};
const message = z.looseObject({ ...fields, reply_to_message: z.looseObject(fields).optional() });

/** True when `m` has the shape the adapter reads (see above). */
export function isWellFormedMessage(m: unknown): boolean {
  return message.safeParse(m).success;
}
