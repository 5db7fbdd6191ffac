/** JSON mode and embeddings through the real openai SDK against the fake server; the offline model's answers. */
import { afterEach, describe, expect, it } from 'vitest';
import { OfflineModel, OpenAIModel } from '../../src/llm/index.js';
import { hashedEmbedding, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';

let fake: FakeOpenAI | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const modelOf = (f: FakeOpenAI) => new OpenAIModel({ apiKey: f.apiKey, baseURL: f.baseURL, model: 'fake-model', timeoutMs: 5000, maxRetries: 0 });

describe('completeJson and embeddings', () => {
  it('asks for a JSON object and returns the text with its token counts, kept apart from reply requests', async () => {
    fake = await startFakeOpenAI();
    const answer = await modelOf(fake).completeJson({ messages: [{ role: 'user', content: '[user] Sam: my cat is called Pixel\n[user] Sam: hello' }] });
    expect(JSON.parse(answer.text)).toEqual({ facts: ['Sam: my cat is called Pixel'], summary: 'They exchanged 2 user messages.' });
    expect(answer.promptTokens).toBeGreaterThan(0);
    expect(fake.jsonRequests[0]?.body.response_format).toEqual({ type: 'json_object' });
    expect(fake.requests).toEqual([]);
  });

  it('embeds texts in order, asking for floats', async () => {
    fake = await startFakeOpenAI();
    const vectors = await modelOf(fake).embedder('fake-embed').embed(['cat pixel', 'dog']);
    expect(vectors).toEqual([hashedEmbedding('cat pixel'), hashedEmbedding('dog')]);
    expect(fake.embeddingRequests[0]).toMatchObject({ model: 'fake-embed', encoding_format: 'float' });
  });

  it('the offline model extracts nothing', async () => {
    expect(await new OfflineModel().completeJson({ messages: [] })).toEqual({ text: '{}', promptTokens: 0, completionTokens: 0 });
  });
});
