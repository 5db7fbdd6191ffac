import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { HttpContext } from '../context.js';
import { agentRoutes } from './agents.js';
import { botChatRoutes } from './botchat.js';
import { qqChatRoutes, qqConversationRoutes } from './qqbot.js';

export { apiGroupChatKey } from './qqbot.js';

/**
 * The other chat APIs (bot chat, user/group chat, agent chat) beside v1, each an encapsulated plugin with its
 * own prefix, so each has its own auth hook, error envelope and 404 — and an unknown path under
 * `/api/v1` keeps v1's shape (the user/group chat API's 404s are scoped to `/api/chat` and `/api/conversations`).
 */
export async function registerDialects(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();
  await api.register(botChatRoutes(ctx), { prefix: '/api/v1/chat/:botId' });
  await api.register(qqChatRoutes(ctx), { prefix: '/api/chat' });
  await api.register(qqConversationRoutes(ctx), { prefix: '/api/conversations' });
  await api.register(agentRoutes(ctx), { prefix: '/v1/api/chat' });
}
