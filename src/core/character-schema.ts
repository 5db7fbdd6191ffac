import { z } from 'zod';

/**
 * The character card schema (the TuringMate characters API's bounds), shared by the preset loader and the HTTP API
 * so both reject the same things with the same messages.
 */
const len = (field: string, min: number, max: number) =>
  z.string().trim().min(min, `${field} must be ${min}-${max} characters`).max(max, `${field} must be ${min}-${max} characters`);
const optText = (field: string, max: number) => z.string().trim().max(max, `${field} must be at most ${max} characters`).nullable().optional();
const url = (field: string) =>
  z.string().trim().max(2048).regex(/^(https?:\/\/|data:image\/)/, `${field} must be an http(s) URL`).nullable().optional();

export const GENDERS = ['male', 'female', 'non-binary', 'other'] as const;

export const characterFields = {
  name: len('name', 1, 100),
  personality: len('personality', 10, 2000),
  speakingStyle: len('speakingStyle', 10, 1000),
  description: optText('description', 500),
  gender: z.enum(GENDERS, { message: 'gender must be one of male, female, non-binary, other' }).nullable().optional(),
  age: z.number({ message: 'age must be a number' }).int('age must be a whole number').min(18, 'age must be at least 18').max(10000, 'age must be at most 10000').nullable().optional(),
  occupation: optText('occupation', 200),
  appearanceDescription: optText('appearanceDescription', 2000),
  avatar: url('avatar'),
  profilePhotoUrl: url('profilePhotoUrl'),
  canInitiateConversation: z.boolean({ message: 'canInitiateConversation must be true or false' }).optional(),
  isPublic: z.boolean({ message: 'isPublic must be true or false' }).optional(),
  /** Admin only: offer the character to platform users without making it public to every key. */
  platformVisible: z.boolean({ message: 'platformVisible must be true or false' }).optional(),
  scenario: optText('scenario', 2000),
  greeting: optText('greeting', 2000),
  exampleDialogue: optText('exampleDialogue', 4000),
  systemPrompt: optText('systemPrompt', 8000),
  postHistoryInstructions: optText('postHistoryInstructions', 2000),
  tags: z.array(z.string().trim().min(1).max(40), { message: 'tags must be a list of strings' }).max(20, 'at most 20 tags').optional(),
  model: z.string().trim().min(1).max(200).nullable().optional(),
  memoryInstructions: optText('memoryInstructions', 1000),
  fallbackModels: z
    .array(z.string().trim().min(1).max(200), { message: 'fallbackModels must be a list of model names' })
    .max(5, 'at most 5 fallbackModels')
    .optional(),
};

export const createCharacterSchema = z.object(characterFields).strict();
export const updateCharacterSchema = z.object(characterFields).partial().strict();
export const presetSchema = createCharacterSchema.extend({ slug: z.string().regex(/^[a-z0-9-]+$/) });

export type CreateCharacter = z.infer<typeof createCharacterSchema>;
export type UpdateCharacter = z.infer<typeof updateCharacterSchema>;
