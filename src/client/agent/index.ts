export { startClient } from './agent.js';
export type { AgentStatus, ClientAgent, ClientEvent, PollReport, SendRequest, SendResult, StartOptions } from './types.js';
