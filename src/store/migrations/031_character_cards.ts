import type { ColumnDataType, ColumnDefinitionBuilder, Kysely } from 'kysely';
import type { SchemaKit } from './portable.js';

/**
 * Characters imported from SillyTavern cards: the card fields we had no column for, the whole
 * card as imported (so an export gives every field back, including other apps' extensions and
 * the lorebook), and its picture as bytes (served as the avatar). `platform_visible` lets the
 * operator offer a tenant's character to platform users without making it public to every key.
 */
export async function up(db: Kysely<any>, s: SchemaKit): Promise<void> {
  const add = (name: string, type: ColumnDataType, build: (c: ColumnDefinitionBuilder) => ColumnDefinitionBuilder = (c) => c) =>
    db.schema.alterTable('characters').addColumn(name, type, build).execute();
  await add('platform_visible', 'integer', (c) => c.notNull().defaultTo(0));
  await add('nickname', 'text');
  await add('alternate_greetings', 'text', (c) => c.notNull().defaultTo('[]'));
  await add('group_greetings', 'text', (c) => c.notNull().defaultTo('[]'));
  await add('card_json', 'text');
  await add('avatar_image', s.binary);
  await add('avatar_mime', 'text');
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of ['avatar_mime', 'avatar_image', 'card_json', 'group_greetings', 'alternate_greetings', 'nickname', 'platform_visible']) {
    await db.schema.alterTable('characters').dropColumn(name).execute();
  }
}
