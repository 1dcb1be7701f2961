// Copied next to node_modules by scripts/ts_interop.sh so the test scripts in tests/interop/
// can import the pinned packages from .services/ts-interop without a node_modules of their own.
export { Memory } from '@mastra/memory';
export { LibSQLStore } from '@mastra/libsql';
export { MessageList } from '@mastra/core/agent/message-list';
export { DynamoDBStore } from '@mastra/dynamodb';
