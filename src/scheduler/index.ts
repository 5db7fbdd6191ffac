export { ProactiveScheduler, NOTHING_TO_SAY, PROACTIVE_INSTRUCTION, type TickReport, type SendResult, type ProactiveOptions, type SchedulerParts, type PolicyPatch, type ProactiveDeliveryEvent } from './proactive.js';
export { DeliveryRouter, type ProactiveTarget, type DeliveryOptions } from './delivery.js';
export { effectivePolicy, decide, nextDueAt, inQuietHours, localTime, isTimeZone, TENANT_FLOORS, isTenantSession, type ProactivePolicy, type ProactiveDefaults } from './policy.js';
export { proactiveCommand } from './command.js';
export { startCron } from './cron.js';
