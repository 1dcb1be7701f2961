// Read threads, messages and working memory through @mastra/memory's Memory from a libSQL file
// (written by mastra-memory in Python, or by anyone) and print them as JSON.
//   node tests/interop/ts_read.mjs DB_FILE OPS_JSON|-
// Ops (JSON list): listThreads {filter, perPage, page, orderBy, allPages} (allPages: follow
// hasMore from `page` and return every page); getThreadById {threadId, resourceId};
// recall {threadId, resourceId, perPage, page, orderBy}; getWorkingMemory {threadId, resourceId};
// getResourceById {resourceId}; listClones {sourceThreadId, resourceId};
// getCloneHistory {threadId}. Prints the list of results as JSON.
import { main } from './_memory.mjs';

await main({
  listThreads: async (memory, { allPages = false, ...args }) => {
    if (!allPages) return memory.listThreads(args);
    const pages = [];
    for (let page = args.page ?? 0; ; page += 1) {
      const result = await memory.listThreads({ ...args, page });
      pages.push(result);
      if (!result.hasMore || pages.length > 1000) return pages;
    }
  },
  getThreadById: (memory, args) => memory.getThreadById(args),
  recall: (memory, args) => memory.recall(args),
  getWorkingMemory: (memory, args) => memory.getWorkingMemory(args),
  getResourceById: async (_memory, { resourceId }, { storage }) =>
    (await storage.getStore('memory')).getResourceById({ resourceId }),
  listClones: (memory, { sourceThreadId, resourceId }) => memory.listClones(sourceThreadId, resourceId),
  getCloneHistory: (memory, { threadId }) => memory.getCloneHistory(threadId),
});
