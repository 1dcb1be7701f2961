// Write threads, messages, working memory and clones through @mastra/memory's Memory on a
// libSQL file, as a Mastra TypeScript app would (no LLM involved).
//   node tests/interop/ts_write.mjs DB_FILE OPS_JSON|-
// Ops (JSON list): createThread {resourceId, threadId, title, metadata}; saveThread {thread};
// saveMessages {messages}; agentTurn {threadId, resourceId, messages: AI SDK model messages,
// source} (converted by Mastra's MessageList exactly as an Agent stores a turn);
// updateThread {id, title, metadata}; updateWorkingMemory {threadId, resourceId, workingMemory};
// cloneThread {sourceThreadId, newThreadId, title, metadata, options}; deleteThread {threadId};
// deleteMessages {messageIds}. Prints the list of results as JSON.
import { main, withDates } from './_memory.mjs';

await main({
  createThread: (memory, args) => memory.createThread(args),
  saveThread: (memory, { thread }) => memory.saveThread({ thread: withDates(thread) }),
  saveMessages: async (memory, { messages }) =>
    (await memory.saveMessages({ messages: messages.map(withDates) })).messages,
  agentTurn: async (memory, { threadId, resourceId, messages, source = 'response' }, { deps }) => {
    const list = new deps.MessageList({ threadId, resourceId });
    list.add(messages, source);
    return (await memory.saveMessages({ messages: list.get.all.db() })).messages;
  },
  updateThread: (memory, args) => memory.updateThread(args),
  updateWorkingMemory: async (memory, args) => {
    await memory.updateWorkingMemory(args);
    return memory.getWorkingMemory({ threadId: args.threadId, resourceId: args.resourceId });
  },
  cloneThread: (memory, args) => memory.cloneThread(args),
  deleteThread: async (memory, { threadId }) => {
    await memory.deleteThread(threadId);
    return null;
  },
  deleteMessages: async (memory, { messageIds }) => {
    await memory.deleteMessages(messageIds);
    return null;
  },
});

